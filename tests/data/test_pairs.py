"""data.pairs: preference pairs from SFT data (another record's answer, or the base model's), in prepare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmforge.config import load_config
from lmforge.data.pairs import fingerprint, other_record, to_pair
from lmforge.data.prepare import prepare
from lmforge.errors import UserError


def _sft_rows(n: int = 40) -> list[dict]:
    rows = [{"q": f"What is {i} plus {i}?", "a": f"{i} plus {i} is {2 * i}."} for i in range(n)]
    rows.append({"q": "Say hi twice.", "a": "hi hi"})  # two records with one answer text
    rows.append({"q": "Say hi, twice.", "a": "hi hi"})
    return rows


def _config(tmp_path: Path, pairs: str, rows: list[dict] | None = None, extra: list[str] = ()):
    raw = tmp_path / "sft.jsonl"
    raw.write_text("".join(json.dumps(r) + "\n" for r in (rows or _sft_rows())))
    (tmp_path / "exp.yaml").write_text(
        "data:\n  sources: [{path: sft.jsonl, fields: {prompt: q, response: a}}]\n"
        "  split: {train: 0.8, val: 0.1, test: 0.1}\n"
        f"  output_dir: {tmp_path / 'out'}\n  workers: 1\n"
        f"  pairs: {pairs}\n"
        "task: {type: preference}\ntrain: {objective: dpo}\n"
    )
    return load_config(tmp_path / "exp.yaml", list(extra))


def _splits(out: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(x) for x in open(out / f"{s}.jsonl")] for s in ("train", "val", "test")}


def test_sft_records_become_pairs_shapes():
    assert to_pair({"id": "a", "prompt": "Hi", "response": "Yo", "system": "Be brief."}) == {
        "id": "a",
        "system": "Be brief.",
        "prompt": "Hi",
        "chosen": "Yo",
    }
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    assert to_pair({"id": "b", "messages": chat}) == {"id": "b", "messages": chat[:1], "chosen": "Yo"}
    assert to_pair({"instruction": "Add", "input": "1 2", "output": "3"})["prompt"] == "Add\n\n1 2"
    assert isinstance(to_pair({"messages": chat[:1]}), str)  # ends with the user: no answer to choose


def test_other_record_is_seeded_by_id_and_never_the_same_text():
    pairs = [{"id": f"r{i}", "chosen": f"answer {i % 5}"} for i in range(30)]
    picks = other_record(pairs, seed=1)
    assert all(p is not None and p != q["chosen"] for p, q in zip(picks, pairs, strict=True))
    assert picks == other_record(pairs, seed=1) and picks != other_record(pairs, seed=2)
    # a pick depends on (seed, id) only: the same record in another order gets the same answer
    assert other_record(pairs[::-1], seed=1)[::-1] == picks
    assert other_record([{"id": "x", "chosen": "same"}, {"id": "y", "chosen": "same "}], 0) == [None, None]


def test_prepare_with_other_record(tmp_path):
    cfg = _config(tmp_path, "{rejected: other_record}")
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"] and stats["read"] == 42
    splits = _splits(tmp_path / "out")
    for name, rows in splits.items():
        own = {r["chosen"] for r in rows}
        for r in rows:  # the rejected answer is another record's of the same split, never the chosen text
            assert r["rejected"] != r["chosen"] and r["rejected"] in own, name
            assert r["meta"]["rejected_by"] == "other_record"
    assert stats["split"] == {s: len(r) for s, r in splits.items()}
    assert stats["pairs"]["kept"] + stats["pairs"]["rejected_records"] == 42
    # and the pairs train: the format layer reads them as preference examples
    assert {"prompt", "chosen", "rejected"} <= set(splits["train"][0])


def test_a_split_with_one_answer_text_is_rejected_with_a_reason(tmp_path):
    from lmforge.errors import RunFailed

    rows = [{"q": f"Say hi ({i})", "a": "hi"} for i in range(5)]
    cfg = _config(tmp_path, "{rejected: other_record}", rows)
    with pytest.raises(RunFailed, match="kept 0 of 5 records: pairs dropped the most"):
        prepare(cfg, quiet=True)
    rejects = [json.loads(x) for x in open(tmp_path / "out" / "rejects.jsonl")]
    assert [(r["step"], r["reason"]) for r in rejects] == [
        ("pairs", "no other record in the split has a different answer")
    ] * 5


def test_pairs_need_a_preference_task(tmp_path):
    with pytest.raises(UserError, match="data.pairs"):
        _config(tmp_path, "{rejected: other_record}", extra=["task.type=sft", "train.objective=sft"])


def _sampled(cfg, model, tok, rows: list[dict]) -> dict[str, str]:
    """What lmforge generate samples for each prompt of one split, seeded as prepare seeds it (once, before
    the batches; prompts in the order of their cache keys)."""
    import hashlib

    import torch

    from lmforge.inference.generation import generate
    from lmforge.tasks import get_task

    p, task = cfg.data.pairs, get_task(cfg.task)
    by_key = {
        hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest(): m
        for m in (task.prompt_messages(r) for r in rows)
    }
    keys = sorted(by_key)
    torch.manual_seed(cfg.seed)
    gens = generate(
        model,
        tok,
        [by_key[k] for k in keys],
        max_new_tokens=p.max_new_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        batch_size=p.batch_size,
    )
    return dict(zip(keys, (g.text for g in gens), strict=True))


def test_base_model_writes_the_rejected_answers_cached(tmp_path, tiny_llama):
    import hashlib

    from lmforge.inference.generation import load_for_inference
    from lmforge.tasks import get_task

    rows = _sft_rows(12)
    # sampled: the tiny random model's greedy answer is empty (its argmax is a special token)
    extra = [f"model.name={tiny_llama}", "data.pairs.max_new_tokens=6", "data.pairs.temperature=1.0"]
    cfg = _config(tmp_path, "{rejected: base_model, batch_size: 4}", rows, extra)
    stats = prepare(cfg, quiet=True)
    assert stats["accounting"]["ok"] and stats["pairs"]["rejected_records"] == 0
    splits = _splits(tmp_path / "out")
    model, tok = load_for_inference(tiny_llama)
    task = get_task(cfg.task)
    for rows_ in splits.values():
        if not rows_:
            continue
        assert all(r["meta"]["rejected_by"] == "base_model" and r["rejected"].strip() for r in rows_)
        expected = _sampled(cfg, model, tok, rows_)
        keys = [
            hashlib.sha256(json.dumps(task.prompt_messages(r), sort_keys=True).encode()).hexdigest()
            for r in rows_
        ]
        assert [r["rejected"] for r in rows_] == [expected[k] for k in keys]
    kept = sum(len(r) for r in splits.values())
    cache = tmp_path / "out" / ".pairs" / f"{fingerprint(cfg)}.jsonl"
    assert cache.is_file() and len(cache.read_text().splitlines()) == kept == 14
    # a rerun reads the cache: an edited cache entry shows up in the pairs
    entries = [json.loads(x) for x in cache.read_text().splitlines()]
    entries[0]["text"] = "EDITED"
    cache.write_text("".join(json.dumps(e) + "\n" for e in entries))
    prepare(cfg, quiet=True)
    assert "EDITED" in {r["rejected"] for rows_ in _splits(tmp_path / "out").values() for r in rows_}
    # other settings, another fingerprint: a fresh cache
    other = _config(tmp_path, "{rejected: base_model}", rows, [*extra, "data.pairs.temperature=0.5"])
    assert fingerprint(other) != fingerprint(cfg)
