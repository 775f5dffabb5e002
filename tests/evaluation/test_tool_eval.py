"""`lmforge eval` on tool-calling records: prompts rendered with the tools, rows with their n, on tiny models."""

import json

from evaluation.helpers import CITIES, cfg_for, write_splits
from lmforge.cli.handlers import format_table
from lmforge.evaluation import generating
from lmforge.evaluation.compare import evaluate, load_base
from lmforge.evaluation.tool_metrics import TOOL_METRICS
from lmforge.formatting.token_cache import make_task
from lmforge.inference.generation import Generation

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def tool_rows(n: int) -> list[dict]:
    """Prepared records: every third answers in text (no call due), the others call get_weather."""
    rows = []
    for i in range(n):
        city = CITIES[i % 6]
        user = {"role": "user", "content": f"What is the weather in {city}?"}
        if i % 3 == 2:
            answer = {"role": "assistant", "content": f"I can only tell you that {city} is a city."}
        else:
            call = {
                "id": f"c{i}",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": city}},
            }
            answer = {"role": "assistant", "content": None, "tool_calls": [call]}
        rows.append({"id": f"w:{i}", "meta": {}, "messages": [user, answer], "tools": TOOLS})
    return rows


def test_eval_reports_tool_call_rows_with_their_n(tiny_llama, tmp_path):
    import lmforge

    rows = tool_rows(36)
    write_splits(tmp_path, rows, n_eval=6)  # test: rows 30..35, of which 32 and 35 answer in text
    cfg = cfg_for(
        tmp_path, tiny_llama, "sft", "train.max_seq_len=384", "train.max_steps=2", "eval.generate_n=null"
    )
    lmforge.train(cfg)
    out = evaluate(cfg)
    for side in ("base", "finetuned"):
        metrics = out[side]
        assert set(TOOL_METRICS) <= set(metrics)
        assert metrics["n_tool_call_match"] == metrics["n_tool_missed_calls"] == 4
        assert metrics["n_tool_false_calls"] == 2
        attempted = metrics["n_tool_valid_json"]
        assert 0 <= attempted <= 6
        for name in TOOL_METRICS:
            assert (
                metrics[name] != metrics[name] or 0.0 <= metrics[name] <= 1.0
            )  # a rate, or NaN of no records
    assert not any(k.startswith("n_") for k in out["delta"])
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["finetuned"]["n_tool_false_calls"] == 2
    main_rows = format_table(out).split("contamination vs train")[0]  # the clean/overlap rows come after
    table = {ln.split()[0]: ln.split() for ln in main_rows.splitlines()[2:]}
    assert table["tool_call_match"][1] == "4" and table["tool_false_calls"][1] == "2"
    assert not any(k.startswith("n_") for k in table)
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    calls = [s["reference"] for s in samples if "weather in" in s["prompt"]]
    assert sum(r.startswith("<tool_call>\n") and "get_weather" in r for r in calls) == 4  # not "": the calls


def test_prompts_carry_the_tools_and_the_base_gets_the_tool_template(tiny_llama, tmp_path, monkeypatch):
    write_splits(tmp_path, tool_rows(30), n_eval=6)
    cfg = cfg_for(tmp_path, tiny_llama, "sft", "train.max_seq_len=384")
    task = make_task(cfg)
    _, tokenizer = load_base(cfg, task)
    assert "<tool_call>" in tokenizer.chat_template  # as training writes it (formatting/tool_template.py)
    seen = []

    def fake_generate(model, tok, prompts, **kwargs):  # the model's answers: the references themselves
        texts = [tok.decode(p) for p in prompts]
        seen.extend(texts)
        asked = [next(r for r in rows if r["messages"][0]["content"] in t) for t in texts]
        return [Generation(task.target(r), True, 1) for r in asked]

    rows = tool_rows(30)[-6:]
    monkeypatch.setattr(generating, "generate", fake_generate)
    gens = generating.generate_for(cfg, task, None, tokenizer, rows)
    assert len(seen) == 6 and all("<tools>" in p and '"name": "get_weather"' in p for p in seen)
    assert all(p.endswith("<|im_start|>assistant\n") for p in seen)
    from lmforge.evaluation.tool_metrics import tool_scores

    m = tool_scores(task, tokenizer, rows, gens)
    assert m["tool_call_match"] == 1.0 and m["tool_false_calls"] == 0.0 and m["n_tool_call_match"] == 4
