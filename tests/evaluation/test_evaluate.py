"""`lmforge eval` end to end on tiny models, and the loss/label-scoring parts against references."""

import json
import math

import pytest
import torch

import lmforge
from evaluation.helpers import cfg_for, cls_rows, sft_rows, write_splits
from lmforge.cli import main
from lmforge.cli.handlers import format_table
from lmforge.evaluation.compare import evaluate, label_probs, loss_metrics
from lmforge.formatting.token_cache import make_task, tokenize_split
from lmforge.inference.generation import load_for_inference


def test_perplexity_is_exp_of_hf_mean_loss(tiny_model, tmp_path):
    write_splits(tmp_path, sft_rows(40))
    cfg = cfg_for(tmp_path, tiny_model, "sft")
    model, tok = load_for_inference(tiny_model)
    ours = loss_metrics(cfg, model, tok, "test")
    total = count = 0.0
    with torch.no_grad():  # HF's own loss, one record at a time, weighted by its label tokens
        for ex in tokenize_split(cfg, "test", tok, packed=False):
            ids, labels = torch.tensor([ex["input_ids"]]), torch.tensor([ex["labels"]])
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    assert ours["loss"] == pytest.approx(total / count, rel=1e-5)
    assert ours["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)


def test_label_scoring_picks_the_label_the_model_prefers(tiny_llama, tmp_path):
    write_splits(tmp_path, cls_rows(40))
    cfg = cfg_for(tmp_path, tiny_llama, "classification", "task.labels=[neg, pos]")
    model, tok = load_for_inference(tiny_llama)
    task = make_task(cfg)
    pos_id = tok("pos", add_special_tokens=False)["input_ids"][0]
    bias = torch.zeros(model.config.vocab_size)
    bias[pos_id] = 20.0  # the model now strongly prefers to say "pos"
    model.lm_head.register_forward_hook(lambda m, i, o: o + bias)
    records = cls_rows(6)
    probs = label_probs(cfg, task, model, tok, records)
    assert probs.shape == (6, 2)
    assert torch.allclose(probs.sum(dim=1), torch.ones(6))
    assert (probs.argmax(dim=1) == 1).all()


def test_sft_eval_writes_base_and_finetuned(tiny_model, tmp_path, capsys):
    write_splits(tmp_path, sft_rows(48))
    cfg = cfg_for(tmp_path, tiny_model, "sft", "train.max_steps=8", "train.lr=5e-3", "model.lora=null")
    lmforge.train(cfg)
    out = evaluate(cfg)
    for side in ("base", "finetuned"):
        assert set(out[side]) >= {"loss", "perplexity", "rouge_l", "eos_rate"}
    assert out["finetuned"]["loss"] < out["base"]["loss"]
    assert out["delta"]["loss"] == pytest.approx(out["finetuned"]["loss"] - out["base"]["loss"])
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["split"] == "test" and saved["base"] == out["base"]
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and set(samples[0]) == {"prompt", "reference", "base", "finetuned"}
    # ROUGE-L and the EOS rate come from eval.generate_n=4 of the 8 test records: eval.json says so
    assert saved["records"] == 8 and saved["base"]["n"] == saved["finetuned"]["n"] == 4
    assert "n" not in out["delta"]
    table = format_table(out)
    assert "8 records" in table and "rouge_l" in table
    main_rows = table.split("contamination vs train")[0].splitlines()  # the clean/overlap rows come after
    assert [ln.split()[1] for ln in main_rows if ln.startswith(("rouge_l", "eos_rate"))] == ["4", "4"]
    assert [ln.split()[1] for ln in main_rows if ln.startswith("loss")] == ["8"]


def test_generate_n_null_generates_for_the_whole_split(tiny_gpt2, tmp_path):
    write_splits(tmp_path, sft_rows(40), n_eval=6)
    cfg = cfg_for(tmp_path, tiny_gpt2, "sft", "eval.generate_n=null", "train.max_steps=2")
    lmforge.train(cfg)
    out = evaluate(cfg)
    assert "n" not in out["finetuned"] and "rouge_l" in out["finetuned"]
    samples = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 6  # every record was generated for (at most SAMPLES_SHOWN are kept)


@pytest.mark.parametrize("head", ["lm", "classifier"])
def test_classification_eval_and_predict(tiny_llama, tmp_path, head, capsys):
    write_splits(tmp_path, cls_rows(48))
    exp = tmp_path / "exp.yaml"
    cfg = cfg_for(tmp_path, tiny_llama, "classification", f"task.head={head}", "train.max_steps=4")
    exp.write_text(json.dumps(cfg.to_dict()))
    assert main(["train", str(exp)]) == 0
    assert main(["eval", str(exp), "--split", "val"]) == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "macro_f1" in printed
    out = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert out["split"] == "val"
    assert (
        0 <= out["finetuned"]["accuracy"] <= 1 and len(out["details"]["finetuned"]["confusion_matrix"]) == 2
    )

    src, dst = tmp_path / "new.jsonl", tmp_path / "pred.jsonl"
    src.write_text('{"text": "lovely great"}\nnot json\n{"txt": "no text field"}\n{"text": "awful"}\n')
    assert main(["predict", str(exp), "--input", str(src), "--output", str(dst)]) == 0
    err = capsys.readouterr().err
    assert "new.jsonl:2: skipped: not valid JSON" in err and "new.jsonl:3: skipped" in err
    rows = [json.loads(x) for x in dst.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["lovely great", "awful"]
    assert all(
        r["prediction"] in ("neg", "pos") and sum(r["probabilities"].values()) == pytest.approx(1)
        for r in rows
    )


def test_eval_without_finetuned_model_is_a_user_error(tiny_gpt2, tmp_path, capsys):
    write_splits(tmp_path, sft_rows(24))
    exp = tmp_path / "exp.yaml"
    exp.write_text(json.dumps(cfg_for(tmp_path, tiny_gpt2, "sft").to_dict()))
    assert main(["eval", str(exp)]) == 2
    assert "no fine-tuned model" in capsys.readouterr().err


def test_predict_sft_generates(tiny_gpt2, tmp_path):
    from lmforge.inference.prediction import predict

    write_splits(tmp_path, sft_rows(24))
    cfg = cfg_for(tmp_path, tiny_gpt2, "sft")
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"prompt": "Where is office 3?"}\n{"prompt": "Hi"}\n')
    result = predict(cfg, str(src), str(dst), model_dir=tiny_gpt2)
    rows = [json.loads(x) for x in dst.read_text().splitlines()]
    assert result["written"] == 2 and all(isinstance(r["prediction"], str) for r in rows)
