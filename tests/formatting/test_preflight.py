"""`lmforge inspect`: the report, and exit 1 with one line on each fatal finding."""

from __future__ import annotations

import json

import pytest
import yaml

from lmforge.cli import main
from lmforge.config import load_config
from lmforge.formatting.preflight import inspect as inspect_api

TRAIN = [
    {"prompt": f"How do I reset password {i}?", "response": f"Click reset {i}.", "id": f"t:{i}", "meta": {}}
    for i in range(6)
]
TEST = [{"prompt": "Where is the office?", "response": "Berlin.", "id": "x:1", "meta": {}}]
NO_EOS = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
USER_ONLY = (
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{% endif %}"
)


def _experiment(tmp_path, model, test=TEST, train=TRAIN, max_seq_len=512, **task):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for split, records in (("train", train), ("val", TRAIN[:1]), ("test", test)):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    exp = {
        "name": "insp",
        "model": {"name": model},
        "data": {"output_dir": str(data)},
        "task": {"type": "sft", **task},
        "train": {"output_dir": str(tmp_path / "run"), "batch_size": 2, "max_seq_len": max_seq_len},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp), encoding="utf-8")
    return path


def test_report_on_a_sound_config(tmp_path, tiny_llama, capsys):
    assert main(["inspect", str(_experiment(tmp_path, tiny_llama))]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "inspect.json").read_text())
    assert report["fatal"] == [] and report["eos_in_labels_share"] == 1.0
    assert 0 < report["loss_token_share"] < 0.5
    assert report["overlap"] == {"val": 1, "test": 0}
    assert any("1 val record(s) equal a train record" in w for w in report["warnings"])
    assert report["pad_eos"]["pad_equals_eos"] is True and report["chat_template"] == "the tokenizer's own"
    assert report["example"].endswith("assistant\n[[Click reset 0.<|im_end|>]]\n")
    hist, length = report["length"]["histogram"], report["length"]
    assert sum(hist["counts"]) == 6 and hist["edges"][-1] == 512
    top = hist["counts"].index(max(hist["counts"]))
    assert hist["edges"][top] <= length["p50"] <= hist["edges"][top + 1]
    assert 0 < report["packing"]["packed_efficiency"] <= 1 and report["packing"]["bins"] == 1
    assert "loss on" in out and "[[Click reset 0.<|im_end|>]]" in out
    assert report["length_before"] == report["length"] and report["over_max_seq_len"]["records"] == 0
    assert "no record is longer than max_seq_len 512" in out


LONG = [
    {"prompt": f"Question {i}?", "response": "word " * (5 + 40 * (i % 2)), "id": f"l:{i}", "meta": {}}
    for i in range(6)
]  # three short records, three far longer than max_seq_len 60


@pytest.mark.parametrize("policy", ["right", "drop"])
def test_lengths_before_max_seq_len_show_what_it_cuts(tmp_path, tiny_llama, capsys, policy):
    exp = _experiment(tmp_path, tiny_llama, train=LONG, max_seq_len=60, truncate=policy)
    main(["inspect", str(exp)])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "inspect.json").read_text())
    counts, over, before = report["counts"], report["over_max_seq_len"], report["length_before"]
    assert over["records"] == 3 == counts["truncated" if policy == "right" else "dropped"]
    assert before["max"] > 60 >= report["length"]["max"] and before["min"] == report["length"]["min"]
    assert over["max_excess"] == before["max"] - 60 and sum(before["histogram"]["counts"]) == 6
    if policy == "right":  # the excess is exactly what truncation cut
        assert over["excess_tokens"] == over["tokens_lost"] == counts["truncated_tokens"] > 0
    else:  # dropping loses the whole record, not only its excess
        assert over["tokens_lost"] == over["excess_tokens"] + 3 * 60 and counts["examples"] == 3
    assert f"over max_seq_len 60: 3 records (50.0%) {over['handled']}" in out
    assert f"length before max_seq_len  min {before['min']}" in out


def test_causal_lm_documents_are_chunked_not_lost(tmp_path, tiny_gpt2, capsys):
    docs = [{"text": "many words here " * (2 + 30 * (i % 2)), "id": f"d:{i}", "meta": {}} for i in range(4)]
    exp = _experiment(tmp_path, tiny_gpt2, train=docs, test=[], max_seq_len=32)
    exp.write_text(exp.read_text().replace("type: sft", "type: causal_lm"))
    main(["inspect", str(exp)])
    report = json.loads((tmp_path / "run" / "inspect.json").read_text())
    over = report["over_max_seq_len"]
    assert over["records"] == 2 == report["counts"]["chunked"] and over["tokens_lost"] == 0
    assert over["handled"] == "chunked (nothing lost)" and report["length_before"]["max"] > 32


def test_template_without_eos_is_fatal(tmp_path, tiny_llama, capsys):
    assert main(["inspect", str(_experiment(tmp_path, tiny_llama, chat_template=NO_EOS))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "EOS ('<|im_end|>') is never in the labels" in err[0]


def test_template_dropping_the_answer_is_fatal(tmp_path, tiny_gpt2, capsys):
    assert main(["inspect", str(_experiment(tmp_path, tiny_gpt2, chat_template=USER_ONLY))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no token carries loss" in err[0]


def test_train_record_in_test_is_fatal(tmp_path, tiny_gpt2, capsys):
    leaked = [{**TRAIN[2], "id": "other.jsonl:9", "meta": {"source": "other"}}]
    assert main(["inspect", str(_experiment(tmp_path, tiny_gpt2, test=leaked))]) == 1
    assert "1 test record(s) equal a train record" in capsys.readouterr().err


def test_python_api_after_module_import(tmp_path, tiny_gpt2):
    import lmforge.formatting.preflight  # noqa: F401  binds the module to lmforge.inspect; it must stay callable

    report = lmforge.inspect(load_config(_experiment(tmp_path, tiny_gpt2)))
    assert report["fatal"] == [] and report["pad_eos"]["pad_id"] is None
    assert report["chat_template"].startswith("lmforge's fallback")
    assert any("no pad token" in w for w in report["warnings"])


def test_empty_train_split_is_fatal(tmp_path, tiny_gpt2, capsys):
    exp = _experiment(tmp_path, tiny_gpt2)
    (tmp_path / "data" / "train.jsonl").write_text("")
    assert main(["inspect", str(exp)]) == 1
    assert "the train split is empty" in capsys.readouterr().err


def test_template_breaking_the_prefix_property_is_fatal(tmp_path, tiny_llama, capsys):
    bot = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}bot: {% endif %}"
    )  # the conversation says "assistant: "
    assert main(["inspect", str(_experiment(tmp_path, tiny_llama, chat_template=bot))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "breaks the prefix property" in err[0]


def test_classifier_head_reports_label_counts(tmp_path, tiny_gpt2, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"text": f"item {i}", "label": ["neg", "pos", "pos"][i % 3], "id": f"c:{i}", "meta": {}}
        for i in range(6)
    ]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(
        None,
        [
            f"model.name={tiny_gpt2}",
            f"data.output_dir={data}",
            "task.type=classification",
            "task.head=classifier",
            f"train.output_dir={tmp_path / 'run'}",
        ],
    )
    report = inspect_api(cfg)
    assert report["label_counts"] == {"neg": 2, "pos": 4} and report["fatal"] == []
    assert "loss_token_share" not in report  # one label per sequence: no token mask to check
