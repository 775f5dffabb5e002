"""The report of a data folder written by the real `prepare` (its stats.json layout, rejects, manifest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_report_html import images, section_ids

import lmforge
from lmforge.reporting.render import write_report


def test_report_of_a_prepared_data_folder(tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "raw.jsonl"
    # distinct words, not numbers: dedup normalises digits away
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
    texts = [f"the model learns {a} and {b} from clean text" for a in words[:6] for b in words[6:11]]
    lines = [json.dumps({"text": t}) for t in texts]
    lines += ["{not json", json.dumps({"text": "hi"}), lines[0]]  # malformed, too short, exact duplicate
    raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "name: prepared\ntask: {type: causal_lm}\n"
        "data:\n  sources: [{path: raw.jsonl}]\n  steps: [{length: {min_words: 3}}, exact_dedup]\n"
        "  output_dir: out\n  workers: 1\n  augment: {eda: {n: 1}}\n"
    )
    monkeypatch.chdir(tmp_path)
    lmforge.prepare(lmforge.load_config("exp.yaml"), quiet=True)
    html = write_report(tmp_path / "out").read_text(encoding="utf-8")
    aug = json.loads((tmp_path / "out" / "stats.json").read_text())["augmented"]
    assert aug["generated"] > 0 and aug["kept"] + aug["rejected"] == aug["generated"]
    assert (
        f"{aug['generated']} augmented records generated, {aug['kept']} added to train, "
        f"{aug['rejected']} rejected"
    ) in html
    assert "<td>eda</td>" in html
    assert section_ids(html) >= {"data", "lengths", "words", "splits", "environment"}
    assert "training" not in section_ids(html) and "eval" not in section_ids(html)
    assert len(images(html)) >= 4  # funnel, reasons, lengths, words
    assert "33 records read, 30 kept, 3 rejected" in html
    assert "read = kept + rejected ✓" in html
    for reason in ("read: malformed JSON", "length: too short", "exact_dedup: exact duplicate"):
        assert reason in html
    assert re.search(r"<title>lmforge report · prepared</title>", html)  # the name from manifest.json


def test_label_balance_of_a_prepared_classification_set(tmp_path: Path, monkeypatch) -> None:
    """stats.json has no label table: the report counts the labels of the split files."""
    moods = {"pos": ["great", "lovely", "superb", "fine"], "neg": ["awful", "bad", "poor"]}
    rows = [
        {"text": f"the {w} service on day {d} was noted", "label": label}
        for label, ws in moods.items()
        for w in ws
        for d in ("one", "two", "three", "four", "five")
    ]
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "name: moods\ntask: {type: classification}\n"
        "data:\n  sources: [{path: raw.jsonl}]\n  split: {train: 0.6, val: 0.2, test: 0.2, stratify: label}\n"
        "  output_dir: out\n  workers: 1\n"
    )
    monkeypatch.chdir(tmp_path)
    lmforge.prepare(lmforge.load_config("exp.yaml"), quiet=True)
    html = write_report(tmp_path / "out").read_text(encoding="utf-8")
    assert "<h2>Splits and label balance</h2>" in html
    assert 'alt="label counts per split"' in html
    train = [
        json.loads(line)["label"] for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    ]
    assert re.search(rf"<td>train</td><td class=\"num\">{train.count('neg')} \(\d+%\)</td>", html)
