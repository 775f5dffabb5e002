"""General-ability probes (evaluation/general.py): the shipped files, the metrics, the KL and the gate."""

import copy
import json

import pytest
import torch

import lmforge
from evaluation.helpers import cfg_for, sft_rows, write_splits
from lmforge.cli import main
from lmforge.evaluation.batching import inference
from lmforge.evaluation.general import METRICS, GeneralProbes, load_probes, mc_scores
from lmforge.inference.generation import load_for_inference


def test_probe_files_are_well_formed():
    items, passages = load_probes()
    assert len(items) == 200 and len({i["id"] for i in items}) == 200
    for item in items:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        assert item["answer"] in range(4) and item["question"].endswith("Answer:")
    assert len({i["question"] for i in items}) == 200
    assert len(passages) == 80 and len({p["text"] for p in passages}) == 80
    assert all(len(p["text"]) >= 200 and ">>>" not in p["text"] for p in passages)


def _scores(model, tok, probes):
    with inference("cpu"):
        return probes.score(model, tok)


def test_keys_and_kl_of_a_model_against_itself(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    probes = GeneralProbes(2048, None)
    base, again = _scores(model, tok, probes), _scores(model, tok, probes)
    for key in METRICS:
        assert key in base and f"n_{key}" in base
    assert base["n_general_mc_acc"] == 200 and base["n_general_ppl"] == 80
    assert base["general_kl"] == 0.0 and again["general_kl"] == pytest.approx(0.0, abs=1e-6)
    assert again["general_ppl"] == pytest.approx(base["general_ppl"], rel=1e-6)


def test_garbage_raises_perplexity_and_kl(tiny_llama):
    model, tok = load_for_inference(tiny_llama)
    probes = GeneralProbes(2048, None)
    base = _scores(model, tok, probes)
    garbage = copy.deepcopy(model)
    torch.manual_seed(0)
    with torch.no_grad():
        garbage.lm_head.weight.add_(torch.randn_like(garbage.lm_head.weight))  # sharp, wrong predictions
    tuned = _scores(garbage, tok, probes)
    assert tuned["general_ppl"] > 2 * base["general_ppl"]
    assert tuned["general_kl"] > 0.5


def test_mc_picks_the_choice_the_model_prefers(tiny_llama):
    """A head biased toward one single-token word makes it win wherever it is the right choice."""
    model, tok = load_for_inference(tiny_llama)
    favourite = tok(" the", add_special_tokens=False)["input_ids"]
    assert len(favourite) == 1
    bias = torch.zeros(model.config.vocab_size)
    bias[favourite[0]] = 50.0
    model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    items = load_probes()[0][:20]
    rigged = [
        {**it, "choices": [c if j != it["answer"] else "the" for j, c in enumerate(it["choices"])]}
        for it in items
    ]
    with inference("cpu"):
        scores = mc_scores(model, tok, rigged, 2048, None)
    assert scores["general_mc_acc"] == 1.0 and scores["general_mc_acc_norm"] == 1.0


def test_max_general_drop_zero_fails_eval_naming_the_metric(tiny_llama, tmp_path, capsys):
    write_splits(tmp_path, sft_rows(48))
    cfg = cfg_for(tmp_path, tiny_llama, "sft", "train.max_steps=4", "train.lr=5e-2", "model.lora=null")
    lmforge.train(cfg)
    exp = tmp_path / "exp.yaml"
    exp.write_text(json.dumps(cfg.to_dict()))
    assert main(["eval", str(exp), "eval.max_general_drop=0"]) == 1
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.startswith("lmforge eval")]
    assert len(err) == 1 and "general_kl" in err[0] and "max_general_drop" in err[0], captured.err
    assert "Traceback" not in captured.err
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["finetuned"]["general_kl"] > 0 and saved["base"]["general_kl"] == 0
    assert "general_ppl" in captured.out  # the table shows the probes
    assert main(["eval", str(exp), "eval.general=false"]) == 0
    assert "general_ppl" not in json.loads((tmp_path / "run" / "eval.json").read_text())["base"]
