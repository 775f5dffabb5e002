"""The serve batcher in-process: stop strings, top-p against transformers, rows independent of their batch."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import TopPLogitsWarper

from lmforge.inference.batcher import Batcher, Job, QueueFull, Row, context_length
from lmforge.inference.generation import generate, load_for_inference
from lmforge.inference.sampling import top_p_filter
from lmforge.inference.stop_text import held_back, visible_end


def test_stop_text():
    assert visible_end("Paris.\nQ: next", ["\nQ:", "."]) == 5
    assert visible_end("Paris", ["\nQ:"]) is None
    assert held_back("Paris\nQ", ["\nQ:"]) == 2  # might still become "\nQ:"
    assert held_back("Paris\n", ["\nQ:", "\n\n"]) == 1
    assert held_back("Paris", ["\nQ:"]) == 0
    assert held_back("caf\ufffd", []) == 1  # half a UTF-8 character
    assert visible_end("Paris\nQ:", ["\nQ:"], new=1) == 5  # a stop string its last character completes
    assert visible_end("Q: Paris", ["Q:"], new=6) is None  # before the new text: searched at an earlier step


@pytest.mark.parametrize("top_p", [0.1, 0.5, 0.9, 0.99])
def test_top_p_keeps_the_tokens_transformers_keeps(top_p):
    torch.manual_seed(0)
    logits = torch.randn(1, 500) * 3
    ref = TopPLogitsWarper(top_p)(None, logits.clone())  # (1, V), -inf where dropped
    ours = top_p_filter(torch.softmax(logits[0], -1), top_p)
    assert torch.equal(ours > 0, torch.isfinite(ref[0]))
    assert ours.sum().item() == pytest.approx(1.0)


def _run(batcher: Batcher, jobs: list[Job]) -> None:
    batcher._run(jobs)  # the worker's own call, without the thread


def _job(rows: list[Row]) -> tuple[Job, list]:
    events: list = []
    return Job(rows, events.append), events


def _text(events: list, index: int = 0) -> str:
    return "".join(e.text for e in events if e.index == index)


def test_rows_do_not_depend_on_their_batch(tiny_model):
    model, tok = load_for_inference(tiny_model)
    b = Batcher(model, tok)
    prompts = [tok(p)["input_ids"] for p in ["Hello", "The capital of France is", "Once upon a time there"]]
    specs = [  # greedy, seeded sampling, greedy with a smaller budget
        {"temperature": 0.0, "max_tokens": 10},
        {"temperature": 1.0, "top_p": 0.9, "seed": 5, "max_tokens": 10},
        {"temperature": 0.0, "max_tokens": 4},
    ]
    alone = []
    for p, spec in zip(prompts, specs, strict=True):
        job, events = _job([Row(prompt=p, **spec)])
        _run(b, [job])
        alone.append((_text(events), events[-1].reason, events[-1].tokens))
    jobs = [_job([Row(prompt=p, **spec)]) for p, spec in zip(prompts, specs, strict=True)]
    _run(b, [j for j, _ in jobs])
    together = [(_text(ev), ev[-1].reason, ev[-1].tokens) for _, ev in jobs]
    assert together == alone
    assert [t[2] for t in alone] == [10, 10, 4] and all(t[1] == "length" for t in alone)
    refs = generate(model, tok, ["Hello", "Once upon a time there"], raw=True, max_new_tokens=10)
    assert alone[0][0].strip() == refs[0].text
    assert (
        alone[2][0].strip()
        == generate(model, tok, ["Once upon a time there"], raw=True, max_new_tokens=4)[0].text
    )


def test_greedy_rows_equal_model_generate_token_for_token(tiny_llama):
    """Greedy rows batched 1, 2 and 3 at a time (prompts of different lengths: left padding, each row's
    positions from its first real token, one KV cache per batch) give each prompt's own unpadded
    `model.generate(do_sample=False)`, batch after batch (nothing stale carries over)."""
    model, tok = load_for_inference(tiny_llama)
    b = Batcher(model, tok)
    texts = ["Hello", "The capital of France is", "Once upon a time there was a girl who lived by the sea"]
    prompts = [tok(t)["input_ids"] for t in texts]

    def alone(p: list[int]) -> list[int]:
        out = model.generate(
            input_ids=torch.tensor([p]), max_new_tokens=12, do_sample=False, temperature=None, top_p=None,
            top_k=None, eos_token_id=b.stops, pad_token_id=b.pad_id,
        )[0, len(p) :].tolist()  # fmt: skip
        stop = next((k for k, t in enumerate(out) if t in b.stops), None)
        return out if stop is None else out[: stop + 1]  # the batcher keeps the EOS, then the row ends

    refs = [alone(p) for p in prompts]
    for order in ([0], [2, 0], [1, 2, 0], [2, 1], [0]):
        rows = [Row(prompt=prompts[k], max_tokens=12) for k in order]
        _run(b, [Job(rows, lambda e: None)])
        assert [r.tokens for r in rows] == [refs[k] for k in order], order
        assert [r.text for r in rows] == [tok.decode(r.tokens, skip_special_tokens=True) for r in rows]


def test_a_long_answer_decodes_a_few_tokens_per_step(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    row = Row(prompt=tok("Once upon a time")["input_ids"], max_tokens=300)
    job, events = _job([row])
    _run(Batcher(model, tok), [job])
    n = len(row.tokens)
    assert n == 300 and _text(events) == tok.decode(row.tokens, skip_special_tokens=True)
    # the whole answer decoded again at every step would be n (n + 1) / 2 = 45,150 ids
    assert row.detok.decoded <= 8 * n  # a few ids per step (tests/inference/test_detokenize.py)


def test_eos_ends_a_row_with_stop(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    bias = torch.zeros(model.config.vocab_size)
    bias[tok.eos_token_id] = 1e9
    handle = model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    try:
        job, events = _job([Row(prompt=tok("Hi")["input_ids"], max_tokens=8)])
        _run(Batcher(model, tok), [job])
    finally:
        handle.remove()
    assert events[-1].reason == "stop" and events[-1].tokens == 1 and _text(events) == ""


def test_cancelled_rows_stop_at_the_next_token(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    b = Batcher(model, tok)
    events: list = []

    def emit(event):
        events.append(event)
        if len(events) == 3:
            job.cancelled = True  # as the server does when the client leaves

    job = Job([Row(prompt=tok("Hello")["input_ids"], max_tokens=500)], emit)
    _run(b, [job])
    assert events[-1].reason == "cancelled" and events[-1].tokens < 10
    assert b.stats()["cancelled"] == 1


def test_queue_is_bounded_and_the_worker_serves_it(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    b = Batcher(model, tok, max_queue=2, max_batch=4)
    finished = threading.Semaphore(0)

    def job() -> Job:
        return Job(
            [Row(prompt=tok("Hello")["input_ids"], max_tokens=3)], lambda e: e.reason and finished.release()
        )

    b.submit(job())
    b.submit(job())
    with pytest.raises(QueueFull):
        b.submit(job())
    with pytest.raises(ValueError):
        b.submit(Job([Row(prompt=[1], max_tokens=1)] * 5, lambda e: None))
    b.start()
    try:
        assert finished.acquire(timeout=30) and finished.acquire(timeout=30)
        b.submit(job())  # room again
        assert finished.acquire(timeout=30)
    finally:
        b.stop()
    assert b.stats()["requests"] == 3 and b.stats()["queued"] == 0


def test_context_length_of_both_architectures(tiny_llama, tiny_gpt2):
    assert context_length(load_for_inference(tiny_llama)[0]) == 1024
    assert context_length(load_for_inference(tiny_gpt2)[0]) == 1024


def test_an_unmerged_lora_adapter_is_served_as_generate_serves_it(tiny_llama, tmp_path):
    from peft import LoraConfig, get_peft_model

    base, tok = load_for_inference(tiny_llama)
    torch.manual_seed(1)
    lora = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    lora.save_pretrained(tmp_path / "adapter")  # adapter_config.json names tiny_llama as its base
    model, tok = load_for_inference(str(tmp_path / "adapter"))
    assert type(model).__name__.startswith("PeftModel")
    job, events = _job([Row(prompt=tok("Hello there")["input_ids"], max_tokens=8)])
    _run(Batcher(model, tok), [job])
    ref = generate(model, tok, ["Hello there"], raw=True, max_new_tokens=8)[0].text
    plain = generate(load_for_inference(tiny_llama)[0], tok, ["Hello there"], raw=True, max_new_tokens=8)[
        0
    ].text
    assert _text(events).strip() == ref and ref != plain  # the adapter's answer, not the base model's
