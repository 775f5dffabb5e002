"""The report of a finished tiny run: every section, valid inline images, nothing from the network."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from run_files import EVIL, make_run, write_jsonl

import lmforge
from lmforge.cli import main
from lmforge.errors import UserError
from lmforge.reporting.render import write_report

SECTIONS = ["data", "lengths", "words", "splits", "training", "eval", "samples", "config", "environment"]


def section_ids(html: str) -> set[str]:
    return set(re.findall(r'<section id="([a-z]+)"', html))


def images(html: str) -> list[Image.Image]:
    """Decode every <img src>; each must be an inline PNG (a network URL would fail here)."""
    out = []
    for src in re.findall(r'<img src="([^"]*)"', html):
        assert src.startswith("data:image/png;base64,"), src[:60]
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        img.load()  # decodes the whole image: a truncated PNG raises here
        out.append(img)
    return out


def test_finished_run_has_every_section_and_valid_images(tiny_report: Path) -> None:
    html = tiny_report.read_text(encoding="utf-8")
    assert section_ids(html) == set(SECTIONS)
    imgs = images(html)
    # funnel, reasons, lengths, words, labels, loss, lr, tokens/s
    assert len(imgs) == 8
    assert all(img.format == "PNG" and img.width > 300 and img.height > 100 for img in imgs)
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page must not reach the network"
    assert "lmforge report" in html and "tiny-run" in html


def test_numbers_from_the_run_files_are_on_the_page(tiny_report: Path) -> None:
    html = tiny_report.read_text(encoding="utf-8")
    assert "120 records read, 90 kept, 30 rejected" in html
    assert "read = kept + rejected" in html
    assert "too_short (16)" in html and "raw/a.jsonl:3" in html  # a reason and its example reject
    augmentation = html[html.index('<h3 id="augmented">') : html.index("Reasons for removal")]
    assert "14 augmented records generated, 11 added to train, 3 rejected" in augmentation
    assert re.search(r"<td>eda</td><td class=\"num\">10</td><td class=\"num\">8</td>.*?80.0%", augmentation)
    assert 'augment/exact_dedup: exact duplicate</td><td class="num">2<' in augmentation
    assert "2 at step 30" in html  # best val loss and the early-stopping point
    assert "Early stopping ended the run at step 50" in html
    loss_row = re.search(r"<td>loss</td>.*?</tr>", html, re.S).group(0)
    assert "2.9" in loss_row and "2.1" in loss_row and '"num better">-0.8' in loss_row
    assert "A low-rank adapter added to frozen weights." in html and "LoRA is a radio protocol." in html
    assert "max_steps: 80" in html  # the config
    assert "transformers" in html and "cpu cores" in html  # the environment


def test_run_text_is_escaped(tiny_report: Path) -> None:
    html = tiny_report.read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "naïve café ✓" in html


def test_sections_without_data_are_left_out(tmp_path: Path, tiny_run: Path) -> None:
    data_only = tmp_path / "data-only"
    shutil.copytree(tiny_run / "data", data_only)
    html = write_report(data_only).read_text(encoding="utf-8")
    assert section_ids(html) == {"data", "lengths", "words", "splits", "environment"}
    assert 'href="#training"' not in html

    train_only = tmp_path / "train-only"
    train_only.mkdir()
    shutil.copy(tiny_run / "metrics.jsonl", train_only)
    html = write_report(train_only).read_text(encoding="utf-8")
    assert section_ids(html) == {"training", "environment"}
    assert len(images(html)) == 3


def test_missing_keys_and_bad_lines_do_not_break_the_report(tmp_path: Path) -> None:
    run = tmp_path / "partial"
    run.mkdir()
    (run / "stats.json").write_text(json.dumps({"read": 10, "kept": 7, "rejected": 2, "lengths": {}}))
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": NaN}\n{"step": 3, "lo')
    (run / "eval.json").write_text(json.dumps({"finetuned": {"accuracy": 0.8}, "base": None}))
    html = write_report(run).read_text(encoding="utf-8")
    assert "records were lost" in html  # 10 read != 7 kept + 2 rejected
    assert "metrics.jsonl: 1 malformed line(s) skipped" in html
    assert "The loss became nan at step 2." in html
    assert section_ids(html) == {"data", "training", "eval", "environment"}
    assert "accuracy" in html and 'id="augmented"' not in html  # no augment block: no such part


def test_resumed_run_keeps_the_last_value_of_a_replayed_step(tmp_path: Path) -> None:
    run = tmp_path / "resumed"
    run.mkdir()
    write_jsonl(
        run / "metrics.jsonl",
        [
            {"step": 1, "loss": 3.0},
            {"step": 2, "loss": 9.0},
            {"step": 2, "loss": 2.5},
            {"step": 2, "val_loss": 2.7},
        ],
    )
    html = write_report(run).read_text(encoding="utf-8")
    assert 'final train loss</div><div class="v">2.5' in html
    assert "2.7 at step 2" in html


def test_data_folder_is_found_through_the_config(tmp_path: Path, monkeypatch) -> None:
    run = make_run(tmp_path / "a")
    moved = tmp_path / "elsewhere" / "data"
    shutil.move(run / "data", moved)
    (run / "config.yaml").write_text(f"name: moved\ndata:\n  output_dir: {moved}\n")
    assert 'id="data"' in write_report(run).read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative output_dir: relative to the working directory, as in the YAML
    (run / "config.yaml").write_text("name: moved\ndata:\n  output_dir: elsewhere/data\n")
    assert 'id="data"' in write_report(run).read_text(encoding="utf-8")
    # reported from another working directory: relative to where RUN_DIR is train.output_dir
    project = tmp_path / "project"
    shutil.move(tmp_path / "a", project / "runs" / "a")
    shutil.move(tmp_path / "elsewhere", project / "elsewhere")
    (project / "runs" / "a" / "tiny-run" / "config.yaml").write_text(
        "train:\n  output_dir: runs/a/tiny-run\ndata:\n  output_dir: elsewhere/data\n"
    )
    assert 'id="data"' in write_report(project / "runs" / "a" / "tiny-run").read_text(encoding="utf-8")


def test_out_path_and_public_api(tiny_run: Path, tmp_path: Path) -> None:
    out = write_report(tiny_run, tmp_path / "x" / "page.html")
    assert out.is_file() and not (tiny_run / "report.html").exists()
    assert lmforge.report(tiny_run) == tiny_run / "report.html"  # callable before and after import
    assert lmforge.write_report is write_report


def test_bad_run_folders_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run folder not found"):
        write_report(tmp_path / "nope")
    with pytest.raises(UserError, match="holds no run files"):
        write_report(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="cannot write the report"):
        write_report(tmp_path, tmp_path / "a-file" / "report.html")  # a file where a folder should be


def test_cli(tiny_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(tiny_run)]) == 0
    assert "report written to" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run folder not found" in err


def test_trainer_record_in_final_wins(tmp_path: Path) -> None:
    """final/lmforge.json (written by train) names the best step and the config when config.yaml is gone."""
    run = make_run(tmp_path)
    (run / "config.yaml").unlink()
    info = {
        "config": {"name": "from-final", "train": {"max_steps": 50}},
        "metrics": {"best_step": 20, "best_val_loss": 2.25, "stopped_early": True},
    }
    (run / "final" / "lmforge.json").write_text(json.dumps(info), encoding="utf-8")
    html = write_report(run).read_text(encoding="utf-8")
    assert "2.25 at step 20" in html
    assert "Early stopping ended the run at step 50" in html
    assert "<title>lmforge report · from-final</title>" in html


def test_end_of_run_call_warns_instead_of_failing(tmp_path: Path, tiny_run: Path, capsys) -> None:
    from lmforge.reporting.render import write_report_safely

    assert write_report_safely(tmp_path / "nope") is None
    assert "warning: no report.html" in capsys.readouterr().err
    assert write_report_safely(tiny_run) == tiny_run / "report.html"
