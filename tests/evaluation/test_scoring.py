"""The one-pass scoring of eval against straightforward references (HF's own loss, one row per label)."""

from __future__ import annotations

import doctest
import importlib
import math

import pytest
import torch

import lmforge.evaluation.scoring as scoring
from evaluation.helpers import cfg_for, cls_rows, sft_rows, write_splits
from lmforge.evaluation.batching import budget_batches, inference
from lmforge.evaluation.class_scores import classifier_scores, label_scores
from lmforge.evaluation.compare import loss_metrics
from lmforge.evaluation.loading import load_base, ready_for_eval
from lmforge.evaluation.scoring import example_unit, score_units
from lmforge.formatting.token_cache import make_task, tokenize_split
from lmforge.inference.generation import load_for_inference


@pytest.mark.parametrize("name", ["batching", "scoring", "class_scores", "generating"])
def test_docstring_examples(name):
    module = importlib.import_module(f"lmforge.evaluation.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_budget_batches_cover_every_row_once_within_the_budget():
    lengths = [7, 1, 30, 12, 12, 3, 64, 2, 9, 9, 5]
    batches = budget_batches(lengths, batch_tokens=40, max_rows=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 40)
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first


def load_sharp(path):
    """A tiny model whose outputs depend on the context: at its init scale (std 0.02) they barely do,
    so a mask that lets a branch see another branch would change its scores by only ~1e-6."""
    model, tok = load_for_inference(path)
    return sharpen(model), tok


def sharpen(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.15)
    return model.eval()


def hf_record_losses(model, examples):
    """(summed CE, label tokens) of each example through HF's `model(labels=...)`, one row at a time."""
    out = []
    with torch.no_grad():
        for ex in examples:
            ids, labels = torch.tensor([ex["input_ids"]]), torch.tensor([ex["labels"]])
            n = int((labels[:, 1:] != -100).sum())
            out.append((float(model(input_ids=ids, labels=labels).loss) * n, n))
    return out


def test_loss_per_record_equals_hf_across_padded_sorted_batches(tiny_model, tmp_path):
    write_splits(tmp_path, sft_rows(60), n_eval=12)
    cfg = cfg_for(tmp_path, tiny_model, "sft", "eval.batch_tokens=96")  # several padded batches
    model, tok = load_sharp(tiny_model)
    examples = tokenize_split(cfg, "test", tok, packed=False)
    with inference("cpu"):
        ours = score_units(model, [example_unit(e) for e in examples], tok.eos_token_id, 96, None, "t")
    ref = hf_record_losses(model, examples)
    assert [c[0] for _, c in ours] == [n for _, n in ref]
    assert [-s[0] for s, _ in ours] == pytest.approx([s for s, _ in ref], rel=1e-5)
    total = sum(s for s, _ in ref) / sum(n for _, n in ref)
    assert loss_metrics(cfg, model, tok, "test")["loss"] == pytest.approx(total, rel=1e-5)


def test_head_chunks_and_soft_capped_head_equal_hf(monkeypatch):
    """A head with soft-capping: the head path applies it (training/lm_head.py), chunked, as HF does."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    torch.manual_seed(0)
    cfg = Gemma2Config(
        vocab_size=500,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=3.0,
    )
    model = sharpen(Gemma2ForCausalLM(cfg))
    assert scoring.split_head(model)[1].transform == (1.0, 3.0)
    examples = []
    for n in (9, 14, 5, 20):
        ids = torch.randint(3, 500, (n,)).tolist()
        examples.append({"input_ids": ids, "labels": [-100] * (n // 2) + ids[n // 2 :]})
    monkeypatch.setattr(scoring, "HEAD_CHUNK", 500 * 7)  # 7 positions per head call
    with inference("cpu"):
        ours = score_units(model, [example_unit(e) for e in examples], 0, 40, None, "t")
    ref = hf_record_losses(model, examples)
    assert [-s[0] for s, _ in ours] == pytest.approx([s for s, _ in ref], rel=1e-5)


def label_reference(model, task, tok, records, max_seq_len):
    """One row per (record, label): softmax of the summed log-likelihoods, and the true labels' loss."""
    labels = task.label_set()
    scoring_task = type(task)(task.cfg.model_copy(update={"truncate": "left"}))
    scoring_task.labels = labels
    rows = [{**r, "label": label} for r in records for label in labels]
    examples, _ = scoring_task.encode_batch(rows, tok, max_seq_len)
    per_row = hf_record_losses(model, examples)
    logp = torch.tensor([-s for s, _ in per_row]).view(len(records), len(labels))
    truth = [i * len(labels) + labels.index(r["label"]) for i, r in enumerate(records)]
    return logp.softmax(dim=1), sum(per_row[i][0] for i in truth), sum(per_row[i][1] for i in truth)


def test_label_branches_equal_one_row_per_label(tiny_llama, tmp_path):
    write_splits(tmp_path, cls_rows(40))
    cfg = cfg_for(tmp_path, tiny_llama, "classification", "task.labels=[neg, pos, meh]")
    model, tok = load_sharp(tiny_llama)
    task = make_task(cfg)
    records = cls_rows(9)
    with inference("cpu"):
        probs, loss_sum, count = label_scores(task, model, tok, records, 96, tok.eos_token_id, 200)
    ref_probs, ref_loss, ref_count = label_reference(model, task, tok, records, 96)
    assert count == ref_count
    assert loss_sum == pytest.approx(ref_loss, rel=1e-5)
    assert torch.allclose(probs, ref_probs, atol=1e-5)
    assert (ref_probs.max(dim=1).values - ref_probs.min(dim=1).values).min() > 0.01  # a real preference


def test_classifier_scores_equal_hf(tiny_llama, tmp_path):
    write_splits(tmp_path, cls_rows(40))
    cfg = cfg_for(tmp_path, tiny_llama, "classification", "task.head=classifier", "task.labels=[neg, pos]")
    task = make_task(cfg)
    model, tok = load_base(cfg, task)
    model = sharpen(model)
    records = cls_rows(7)
    seen = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(i[0].numel()))
    with inference("cpu"):
        probs, loss_sum, count = classifier_scores(task, model, tok, records, 96, tok.eos_token_id, 1024)
    hook.remove()
    examples, _ = task.encode_batch(records, tok, 96)
    assert sum(seen) < 7 * max(len(e["input_ids"]) for e in examples) // 2  # the template ran once
    with torch.no_grad():
        ref = torch.cat([model(input_ids=torch.tensor([e["input_ids"]])).logits for e in examples])
    labels = torch.tensor([e["label"] for e in examples])
    assert count == 7
    assert loss_sum == pytest.approx(float(torch.nn.functional.cross_entropy(ref, labels, reduction="sum")))
    assert torch.allclose(probs, ref.softmax(dim=1), atol=1e-5)
    assert ref.softmax(dim=1).max() > 0.6  # a head with an opinion


def test_merged_bf16_scores_stay_close_to_unmerged_fp32(tiny_llama, tmp_path):
    """The fast settings (LoRA merged, bf16 weights under autocast) against the plain peft model in fp32.

    Tolerance: loss within 2% and probabilities within 0.02 (bf16 keeps 8 bits of mantissa)."""
    from peft import LoraConfig, get_peft_model

    write_splits(tmp_path, cls_rows(40))
    cfg = cfg_for(tmp_path, tiny_llama, "classification", "task.labels=[neg, pos]")
    task = make_task(cfg)
    base, tok = load_for_inference(tiny_llama)
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)  # a LoRA that changes the outputs (B starts at zero)
    records = cls_rows(8)
    args = (96, tok.eos_token_id, 256)
    with inference("cpu"):
        ref_probs, ref_loss, n = label_scores(task, model.eval(), tok, records, *args)
    fast = ready_for_eval(model, torch.bfloat16)
    assert (
        not hasattr(fast, "peft_config") and fast.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    )
    with inference("cpu", torch.bfloat16):
        probs, loss, m = label_scores(task, fast, tok, records, *args)
    assert m == n and math.isfinite(loss)
    assert loss / n == pytest.approx(ref_loss / n, rel=2e-2)
    assert (probs - ref_probs).abs().max() < 2e-2


def test_shared_prefix_runs_once_with_the_same_scores(tiny_model, tmp_path):
    """The template's leading tokens go through the model once per batch, and nothing changes."""
    from lmforge.evaluation.class_scores import label_units
    from lmforge.evaluation.scoring import collate_units, score_batch

    write_splits(tmp_path, sft_rows(40))
    cfg = cfg_for(tmp_path, tiny_model, "sft")
    model, tok = load_sharp(tiny_model)
    units = [example_unit(e) for e in tokenize_split(cfg, "test", tok, packed=False)]
    task = make_task(cfg_for(tmp_path, tiny_model, "classification", "task.labels=[neg, pos]"))
    trees = label_units(task, tok, cls_rows(6), 96)
    seen = []
    scoring.split_head(model)  # its guard (two 32-token forwards, once per model) before the counting
    model.get_input_embeddings().register_forward_hook(lambda m, i, o: seen.append(i[0].numel()))
    for part in (units, trees):
        batch = collate_units(part, tok.eos_token_id)
        prefix, (rows, width) = int(batch["prefix"]), batch["input_ids"].shape
        assert prefix >= 8
        with inference("cpu"):
            seen.clear()
            shared = score_batch(model, batch)
            assert sum(seen) == prefix + rows * (width - prefix)
            plain = score_batch(model, {**batch, "prefix": torch.tensor(0)})
        assert torch.allclose(shared, plain, atol=1e-5)


def test_an_output_transform_the_split_does_not_know_is_caught(capsys, monkeypatch):
    """Granite divides its logits by logits_scaling after the head: with that forgotten, split_head's guard
    (the model's own logits on one short row) sees it, and eval lets the model compute its head."""
    from transformers import GraniteConfig, GraniteForCausalLM

    from lmforge.training import lm_head

    torch.manual_seed(0)
    cfg = GraniteConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        logits_scaling=4.0,
    )
    model = sharpen(GraniteForCausalLM(cfg))
    monkeypatch.setattr(lm_head, "head_transform", lambda config: lm_head.PLAIN)
    assert scoring.split_head(model)[0] is None
    examples = []
    for n in (12, 7, 18):
        ids = torch.randint(3, 300, (n,)).tolist()
        examples.append({"input_ids": ids, "labels": [-100] * 3 + ids[3:]})
    with inference("cpu"):
        ours = score_units(model, [example_unit(e) for e in examples], 0, 64, None, "t")
    ref = hf_record_losses(model, examples)
    assert [-s[0] for s, _ in ours] == pytest.approx([s for s, _ in ref], rel=1e-5)
    assert "differs from the model's own logits" in capsys.readouterr().err


def test_bf16_linear_weights_under_autocast_for_both_architectures(tiny_model, tmp_path):
    """GPT-2's Conv1D and Llama's Linear layers in bf16, tied head untied into its own bf16 copy, the
    embedding lookup left in fp32: losses stay within 2% of fp32."""
    write_splits(tmp_path, sft_rows(40))
    cfg = cfg_for(tmp_path, tiny_model, "sft")
    model, tok = load_sharp(tiny_model)
    units = [example_unit(e) for e in tokenize_split(cfg, "test", tok, packed=False)]
    with inference("cpu"):
        ref = score_units(model, units, tok.eos_token_id, 512, None, "t")
    fast = ready_for_eval(model, torch.bfloat16)
    assert fast.get_input_embeddings().weight.dtype == torch.float32
    assert fast.get_output_embeddings().weight.dtype == torch.bfloat16
    with inference("cpu", torch.bfloat16):
        ours = score_units(fast, units, tok.eos_token_id, 512, None, "t")
    assert [s[0] for s, _ in ours] == pytest.approx([s[0] for s, _ in ref], rel=2e-2)
