"""`lmforge eval` on task.type: rl: the run's reward functions on completions of the held-out prompts.

The fine-tuned side is a tiny Llama rigged to answer every prompt with the digit 7 and nothing else, so
its rewards are known (1 for the functions that want sevens); the base side's are checked against a
plain HF `generate` scored by hand.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import torch
import yaml

import lmforge
from lmforge.cli.main import main
from lmforge.evaluation.rl_scores import pass_at_k, pass_at_k_metrics, pass_ks
from training.test_grpo import REWARD_PY, _project

SEVENS_PY = """
SEVEN = {seven}


def sevens(prompts, completions, completion_ids, **columns):
    return [float(all(t == SEVEN for t in ids)) for ids in completion_ids]
"""
REWARDS = ["rewards.py:even", "rewards.py:sevens", {"name": "format", "pattern": "7777"}]


def _rl_project(root: Path, model: str, **train) -> Path:
    """test_grpo's arithmetic project, a quarter of the prompts held out, rewards that want sevens."""
    from transformers import AutoTokenizer

    seven = AutoTokenizer.from_pretrained(model).convert_tokens_to_ids("7")
    exp = _project(root, model, rewards=REWARDS, reward_weights=[0.0, 0.5, 0.5], max_steps=2, **train)
    (root / "rewards.py").write_text(REWARD_PY + SEVENS_PY.format(seven=seven))
    raw = yaml.safe_load(exp.read_text())
    raw["data"]["split"] = {"train": 0.75, "val": 0, "test": 0.25}
    exp.write_text(yaml.safe_dump(raw))
    return exp


def _sevens_model(tiny: str, out: Path) -> tuple[Path, int]:
    """A Llama whose last MLP adds a huge constant to hidden unit 0 and whose head reads only that unit,
    into the logit of "7": every next token is "7" (logit ~80 against 0, sampled or greedy)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    config = LlamaConfig.from_pretrained(tiny, mlp_bias=True, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    seven = tokenizer.convert_tokens_to_ids("7")
    with torch.no_grad():
        bias = model.model.layers[-1].mlp.down_proj.bias
        bias.zero_()
        bias[0] = 1000.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[seven, 0] = 10.0
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out, seven


def test_rl_eval_scores_known_answers(tiny_llama, tmp_path):
    exp = _rl_project(tmp_path, tiny_llama, max_new_tokens=8)
    cfg = lmforge.load_config(exp, ["eval.num_samples=4"])
    lmforge.prepare(cfg)
    tuned, seven = _sevens_model(tiny_llama, tmp_path / "sevens")
    out = lmforge.evaluate(cfg, str(tuned))
    test = [json.loads(x) for x in (tmp_path / "run" / "data" / "test.jsonl").read_text().splitlines()]
    keys = ["reward", "reward/rewards.py:even", "reward/rewards.py:sevens", "reward/format", "pass_rate"]
    keys += ["pass@1", "pass@2", "pass@4"]
    for side in ("base", "finetuned"):
        assert {*keys, *(f"n_{k}" for k in keys)} <= set(out[side]), out[side]
        assert all(out[side][f"n_{k}"] == len(test) for k in keys)
    t = out["finetuned"]
    assert t["reward"] == 1.0 and t["pass_rate"] == 1.0 and t["reward/rewards.py:sevens"] == 1.0
    assert t["pass@1"] == t["pass@4"] == 1.0 and t["reward/rewards.py:even"] == float(seven % 2 == 0)
    assert out["base"]["reward"] < 0.5 and out["base"]["pass@4"] < 1.0

    # the base's share of even ids, by hand: HF greedy generate, ids through the EOS that ended them
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    shares = []
    for record in test:
        messages = [{"role": "user", "content": record["prompt"]}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            row = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)[
                0, len(ids) :
            ].tolist()
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        shares.append(sum(t % 2 == 0 for t in row) / len(row))
    assert math.isclose(out["base"]["reward/rewards.py:even"], sum(shares) / len(shares), abs_tol=1e-6)

    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert samples[0]["finetuned"] == "7" * 8 and samples[0]["finetuned_reward"] == 1.0
    assert samples[0]["reference"].startswith("answer: ") and "base_reward" in samples[0]


def test_pass_at_k_equals_counting_subsets():
    """1 - C(n-c, k)/C(n, k) is the share of the k-subsets of n samples (c passing) that hold a pass."""
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(range(n), k))
                hit = sum(any(i < c for i in s) for s in subsets) / len(subsets)
                assert math.isclose(pass_at_k(n, c, k), hit), (n, c, k)
    passed = torch.tensor([1, 0, 0, 0, 1, 1, 0, 0], dtype=torch.bool)  # 2 prompts x 4 samples: c = 1, 2
    m = pass_at_k_metrics(passed, 4)
    assert pass_ks(4) == [1, 2, 4] and m["n_pass@2"] == 2
    assert math.isclose(m["pass@1"], (1 / 4 + 2 / 4) / 2) and math.isclose(m["pass@2"], (1 / 2 + 5 / 6) / 2)


def test_cli_eval_on_a_trained_rl_run(tiny_llama, tmp_path, capsys):
    exp = _rl_project(tmp_path, tiny_llama)
    assert main(["prepare", str(exp)]) == 0
    assert main(["train", str(exp)]) == 0
    capsys.readouterr()
    assert main(["eval", str(exp)]) == 0  # train.output_dir/final: the LoRA adapter, merged for eval
    printed = capsys.readouterr().out
    assert "reward/format" in printed and "pass_rate" in printed
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert result["finetuned"]["n_reward"] == result["records"] > 0
    report = (tmp_path / "run" / "report.html").read_text()
    assert 'alt="reward per step' in report and "fine-tuned (reward " in report  # the curve, samples' rewards

    (tmp_path / "rewards.py").unlink()
    assert main(["eval", str(exp)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rewards.py" in err and "not found" in err, err
