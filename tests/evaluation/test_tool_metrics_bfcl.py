"""Tool-call metrics on BFCL v4's real one-call questions (bench/bfcl.py), against BFCL's own checker."""

import json

import pytest

from bench import bfcl
from lmforge.evaluation.tool_metrics import tool_metrics
from lmforge.tasks.sft import answer_text

pytestmark = pytest.mark.skipif(
    not bfcl.WHEEL.is_file(), reason="bfcl-eval wheel not downloaded (make install)"
)


def cases():
    """(BFCL item, reference calls) of every question with a ground truth."""
    for category in ("simple_python", "live_simple"):
        for item in bfcl.items(category):
            if item["ground_truth"]:
                yield item, bfcl.record(item)["messages"][-1]["tool_calls"]


def as_reply(name, args):
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args}, ensure_ascii=False)}\n</tool_call>"


def test_every_reference_call_read_back_from_its_target_text_matches():
    pairs = list(cases())
    texts = [answer_text({"role": "assistant", "content": None, "tool_calls": ref}) for _, ref in pairs]
    m = tool_metrics([ref for _, ref in pairs], texts)
    assert (m["tool_call_match"], m["tool_valid_json"], m["n_tool_call_match"]) == (1.0, 1.0, len(pairs))
    assert len(pairs) > 600


def test_wrong_calls_are_wrong_for_bfcl_too():
    """A number as a string, the first argument dropped, an argument added: BFCL's checker rejects each,
    and so does tool_call_match (an int as 5.0 parts ways by design: BFCL checks the schema's type)."""
    seen = 0
    for item, ref in cases():
        function = ref[0]["function"]
        args = json.loads(function["arguments"])
        wrong = [{**args, "unrequested": 1}]
        if args:
            first = next(iter(args))
            wrong.append({k: v for k, v in args.items() if k != first})
        wrong += [{**args, k: str(v)} for k, v in args.items() if type(v) in (int, float)]
        for call in wrong:
            assert bfcl.check_call(item, function["name"], call) is not None
            assert tool_metrics([ref], [as_reply(function["name"], call)])["tool_call_match"] == 0.0
            seen += 1
    assert seen > 1500
