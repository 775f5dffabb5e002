"""prepare -> train -> eval through the CLI on a tiny model, then the report of the run folder."""

from __future__ import annotations

import json
from pathlib import Path

from test_report_html import images, section_ids

from lmforge.cli import main
from lmforge.reporting.render import write_report

CITIES = ["Paris", "Berlin", "Rome", "Madrid", "Oslo", "Vienna", "Lisbon", "Prague"]


def write_project(root: Path, model: str) -> Path:
    rows = [
        {"question": f"Where is office {w}?", "answer": f"Office {w} is in {c}."}
        for w in ("north", "south", "east", "west", "main", "annex")
        for c in CITIES
    ]
    rows.append({"question": "hi", "answer": "x"})  # removed by the length step
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    exp = {
        "name": "pipeline",
        "task": {"type": "sft"},
        "model": {"name": model, "lora": None},  # full fine-tune: final/ is a plain model folder
        "data": {
            "sources": [{"path": "raw.jsonl", "fields": {"prompt": "question", "response": "answer"}}],
            "steps": [{"length": {"min_words": 3}}, "exact_dedup"],
            "split": {"train": 0.8, "val": 0.1, "test": 0.1},
            "output_dir": str(root / "run" / "data"),
            "workers": 1,
        },
        "train": {
            "output_dir": str(root / "run"),
            "max_steps": 6,
            "batch_size": 4,
            "eval_every": 2,
            "log_every": 1,
            "save_every": 3,
            "max_seq_len": 48,
            "precision": "fp32",
        },
        "eval": {"generate_n": 3, "max_new_tokens": 8, "batch_size": 4},
    }
    (root / "exp.yaml").write_text(json.dumps(exp), encoding="utf-8")
    return root / "exp.yaml"


def test_report_of_a_real_tiny_run(tiny_llama: str, tmp_path: Path) -> None:
    exp = str(write_project(tmp_path, tiny_llama))
    for command in (["prepare", exp], ["train", exp], ["eval", exp]):
        assert main(command) == 0, command
    run = tmp_path / "run"
    html = write_report(run).read_text(encoding="utf-8")
    assert section_ids(html) == {
        "data",
        "lengths",
        "words",
        "splits",
        "training",
        "eval",
        "samples",
        "config",
        "environment",
    }
    assert len(images(html)) >= 7
    best = json.loads((run / "final" / "lmforge.json").read_text())["metrics"]["best_step"]
    assert f"at step {best}</div>" in html  # the early-stopping point the trainer recorded
    assert "read = kept + rejected ✓" in html
    tuned = json.loads((run / "eval.json").read_text())["finetuned"]
    assert all(f"<td>{name}</td>" in html for name in tuned if not name.startswith("n_"))  # n_: a column
    sample = json.loads((run / "samples.jsonl").read_text().splitlines()[0])
    assert sample["prompt"].split("?")[0] in html
