"""Preference objectives against TRL on a tiny model and one batch: losses, gradients, log-probs.

DPO (sigmoid) and IPO go through TRL's own `DPOTrainer._compute_loss` (its collator, its reference pass
with the adapter disabled); ORPO, SimPO and conservative DPO through the loss functions of TRL's
ORPOTrainer / CPOTrainer on log-probs from TRL's `get_batch_logps`; KTO through `KTOTrainer._compute_loss`.
"""

from __future__ import annotations

import types

import pytest
import torch

from lmforge.config import TrainConfig
from lmforge.training.objectives import dpo_losses, orpo_ratio, simpo_losses
from lmforge.training.preference_loss import PreferenceLoss, collate_kto, collate_pairs, sequence_logps

pytest.importorskip("trl")

PAIRS = [
    {"prompt": "What colour is the sky?", "chosen": "Blue.", "rejected": "It is a fish, I believe."},
    {"prompt": "Two plus two?", "chosen": "Four.", "rejected": "Seven"},
    {"prompt": "Name a fruit, please, any fruit at all.", "chosen": "An apple.", "rejected": "A chair."},
]
TOL = 1e-5


def _lora_config():
    from peft import LoraConfig

    return LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0)


def _move_off_reference(model, seed: int = 0):
    """Give LoRA's B a non-zero value, so that policy != reference (the base with the adapter disabled)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def _lora_model(path: str, seed: int = 0):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return _move_off_reference(get_peft_model(model, _lora_config()), seed)


def _grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


def _close_grads(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=TOL, rtol=1e-4, msg=name)


def _ours(examples: list[dict]) -> list[dict]:
    """TRL's tokenised rows (prompt_ids, chosen_ids, rejected_ids) as lmforge pair examples."""
    return [
        {
            "input_ids": e["prompt_ids"] + e["chosen_ids"],
            "prompt_len": len(e["prompt_ids"]),
            "rejected_ids": e["rejected_ids"],
        }
        for e in examples
    ]


@pytest.fixture(scope="module")
def dpo_setup(tiny_llama, tmp_path_factory):
    from datasets import Dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    return tok, Dataset.from_list(PAIRS), tmp_path_factory.mktemp("trl")


def _trl_dpo(path, tok, data, out, loss_type: str, beta: float):
    """TRL's DPOTrainer making its own adapter on the base (its reference: the adapter disabled)."""
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)

    args = DPOConfig(
        output_dir=str(out),
        beta=beta,
        loss_type=[loss_type],
        report_to=[],
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=len(PAIRS),
        max_length=None,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=data, processing_class=tok, peft_config=_lora_config()
    )
    _move_off_reference(trainer.model)
    rows = [trainer.train_dataset[i] for i in range(len(PAIRS))]
    return trainer, rows


@pytest.mark.parametrize(
    "objective,loss_type,beta", [("dpo", "sigmoid", 0.1), ("dpo", "sigmoid", 0.5), ("ipo", "ipo", 0.1)]
)
def test_dpo_and_ipo_equal_trl_dpo_trainer(tiny_llama, dpo_setup, objective, loss_type, beta):
    tok, data, out = dpo_setup
    trainer, rows = _trl_dpo(tiny_llama, tok, data, out, loss_type, beta)
    model = trainer.model.train()
    trl_loss = trainer._compute_loss(trainer.model, trainer.data_collator(rows), False)
    trl_loss.backward()
    trl_grads = _grads(model)

    t = TrainConfig(objective=objective, beta=beta)
    ours_module = PreferenceLoss(model, t).train()
    batch = collate_pairs(_ours(rows), tok.pad_token_id)
    ours = ours_module(batch) / len(PAIRS)  # the loop divides the summed pair losses by the pair count
    ours.backward()
    torch.testing.assert_close(ours, trl_loss, atol=TOL, rtol=TOL)
    _close_grads(_grads(model), trl_grads)
    assert float(trl_loss) != pytest.approx(
        0.6931, abs=1e-3
    )  # the adapter moved the policy off the reference


def test_logps_equal_trl_get_batch_logps_and_reference_is_the_base(tiny_llama, dpo_setup):
    from transformers import AutoModelForCausalLM
    from trl.experimental.orpo import ORPOTrainer

    tok, data, out = dpo_setup
    model = _lora_model(tiny_llama)
    _, rows = _trl_dpo(tiny_llama, tok, data, out, "sigmoid", 0.1)
    batch = collate_pairs(_ours(rows), tok.pad_token_id)
    with torch.no_grad():
        ours, counts = sequence_logps(model, batch)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        theirs = ORPOTrainer.get_batch_logps(logits, batch["labels"])
        theirs_avg = ORPOTrainer.get_batch_logps(logits, batch["labels"], average_log_prob=True)
        base = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
        base_logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        with model.disable_adapter():
            ref, _ = sequence_logps(model, batch)
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=TOL)
    torch.testing.assert_close(ours / counts, theirs_avg, atol=TOL, rtol=TOL)
    torch.testing.assert_close(
        ref, ORPOTrainer.get_batch_logps(base_logits, batch["labels"]), atol=TOL, rtol=0
    )
    assert (ours - ref).abs().max() > 1e-3


def _trl_self(**kw):
    """The attributes TRL's loss methods read from their trainer."""
    return types.SimpleNamespace(
        accelerator=types.SimpleNamespace(device=torch.device("cpu")), alpha=0.0, **kw
    )


def _policy_batch(tiny_llama, tok, rows):
    model = _lora_model(tiny_llama)
    return model, collate_pairs(_ours(rows), tok.pad_token_id)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_simpo_equals_trl_cpo_simpo(tiny_llama, dpo_setup, smoothing):
    from trl.experimental.cpo import CPOTrainer

    tok, data, out = dpo_setup
    _, rows = _trl_dpo(tiny_llama, tok, data, out, "sigmoid", 0.1)
    model, batch = _policy_batch(tiny_llama, tok, rows)
    b = len(PAIRS)
    logps, counts = sequence_logps(model, batch)
    avg = logps / counts
    fake = _trl_self(beta=2.0, simpo_gamma=0.5, label_smoothing=smoothing, loss_type="simpo")
    theirs, _, _ = CPOTrainer.cpo_loss(fake, avg[:b], avg[b:])
    theirs.mean().backward(retain_graph=True)
    trl_grads = _grads(model)
    t = TrainConfig(objective="simpo", beta=2.0, simpo_gamma=0.5, label_smoothing=smoothing)
    ours = PreferenceLoss(model, t).train()(batch) / b
    ours.backward()
    torch.testing.assert_close(ours, theirs.mean(), atol=TOL, rtol=TOL)
    _close_grads(_grads(model), trl_grads)
    torch.testing.assert_close(
        simpo_losses(avg[:b], avg[b:], 2.0, 0.5, smoothing), theirs, atol=TOL, rtol=TOL
    )


def test_orpo_equals_trl_orpo(tiny_llama, dpo_setup):
    from trl.experimental.orpo import ORPOTrainer

    tok, data, out = dpo_setup
    _, rows = _trl_dpo(tiny_llama, tok, data, out, "sigmoid", 0.1)
    model, batch = _policy_batch(tiny_llama, tok, rows)
    b = len(PAIRS)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    avg = ORPOTrainer.get_batch_logps(logits, batch["labels"], average_log_prob=True)
    # TRL's chosen NLL: token-mean cross-entropy over the chosen half's labels
    nll = torch.nn.functional.cross_entropy(
        logits[:b, :-1].reshape(-1, logits.shape[-1]), batch["labels"][:b, 1:].reshape(-1)
    )
    losses, _, _, _, _ = ORPOTrainer.odds_ratio_loss(_trl_self(beta=0.1), avg[:b], avg[b:])
    theirs = nll - losses.mean()
    theirs.backward()
    trl_grads = _grads(model)
    ours = PreferenceLoss(model, TrainConfig(objective="orpo", beta=0.1)).train()(batch) / b
    ours.backward()
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=TOL)
    _close_grads(_grads(model), trl_grads)
    torch.testing.assert_close(orpo_ratio(avg[:b], avg[b:]), losses / 0.1, atol=TOL, rtol=TOL)


def test_conservative_dpo_equals_trl_cpo_sigmoid_on_log_ratios():
    """cDPO: -(1-e) log s(b d) - e log s(-b d); TRL 1.x keeps this form in CPOTrainer's sigmoid loss."""
    from trl.experimental.cpo import CPOTrainer

    torch.manual_seed(0)
    chosen, rejected = torch.randn(6) * 3, torch.randn(6) * 3
    fake = _trl_self(beta=0.3, label_smoothing=0.25, loss_type="sigmoid")
    theirs, _, _ = CPOTrainer.cpo_loss(fake, chosen, rejected)
    torch.testing.assert_close(dpo_losses(chosen - rejected, 0.3, 0.25), theirs, atol=TOL, rtol=TOL)
    assert not torch.allclose(dpo_losses(chosen - rejected, 0.3, 0.0), theirs, atol=1e-3)


def test_pair_batch_rows_and_counts():
    batch = collate_pairs(
        [
            {"input_ids": [1, 5, 6], "prompt_len": 1, "rejected_ids": [7]},
            {"input_ids": [2, 8], "prompt_len": 1, "rejected_ids": [9, 9, 9]},
        ],
        0,
    )
    assert batch["input_ids"].tolist() == [[1, 5, 6, 0], [2, 8, 0, 0], [1, 7, 0, 0], [2, 9, 9, 9]]
    assert batch["labels"][:, 1:].ne(-100).sum(1).tolist() == [2, 1, 1, 3]
    assert int(batch["pair_count"]) == 2 and int(batch["n_tokens"]) == 11


def test_kto_batch_pairs_each_prompt_with_the_next_completion():
    examples = [
        {"input_ids": [1, 5], "prompt_len": 1, "kto_label": 1},
        {"input_ids": [2, 3, 8, 9], "prompt_len": 2, "kto_label": 0},
    ]
    batch = collate_kto(examples, 0)
    assert batch["input_ids"].tolist() == [[1, 5, 0, 0], [2, 3, 8, 9], [1, 8, 9, 0], [2, 3, 5, 0]]
    assert batch["kto_label"].tolist() == [True, False]


def _write_pairs(root, n: int = 24) -> None:
    import json

    rows = [
        {
            "id": f"p:{i}",
            "meta": {},
            "prompt": f"Is {i} even?",
            "chosen": "Yes." if i % 2 == 0 else "No.",
            "rejected": "Maybe, who knows.",
        }
        for i in range(n)
    ]
    (root / "data").mkdir()
    for split, part in (("train", rows[:-6]), ("val", rows[-6:])):
        (root / "data" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))


@pytest.mark.parametrize("lora", [True, False])
def test_dpo_trains_end_to_end_on_a_tiny_model(tiny_llama, tmp_path, lora):
    import json

    from lmforge.api import train
    from lmforge.config import load_config

    _write_pairs(tmp_path)
    cfg = load_config(
        None,
        [
            f"model.name={tiny_llama}",
            f"data.output_dir={tmp_path / 'data'}",
            f"train.output_dir={tmp_path / 'run'}",
            "task.type=preference",
            "train.objective=dpo",
            "train.max_steps=8",
            "train.batch_size=4",
            "train.log_every=1",
            "train.eval_every=4",
            "train.precision=fp32",
            "train.warmup_ratio=0",
            "train.lr=0.005" if lora else "train.lr=0.0005",
            *([] if lora else ["model.lora=null"]),
        ],
    )
    train(cfg)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # step 0: the policy is the reference (base under the disabled adapter, or the cached log-probs)
    assert (
        rows[0]["step"] == 0
        and rows[0]["val_rewards/margin"] == 0
        and rows[0]["val_loss"] == pytest.approx(0.693147, abs=1e-6)
    )
    train_rows = [r for r in rows if r.get("loss") is not None]
    assert {"rewards/chosen", "rewards/rejected", "rewards/margin", "rewards/accuracy"} <= train_rows[
        -1
    ].keys()
    assert train_rows[-1]["loss"] < train_rows[0]["loss"] and rows[-1]["val_rewards/margin"] > 0
    assert (tmp_path / "run" / "final").is_dir()
    if lora:  # lmforge eval on the pairs: base and tuned preference accuracy and margin
        from lmforge.api import evaluate

        out = evaluate(cfg, split="val")
        assert set(out["base"]) == set(out["finetuned"])  # + the general probes' metrics (general.py)
        assert {"preference_accuracy", "reward_margin"} <= set(out["base"])
        assert out["finetuned"]["reward_margin"] > out["base"]["reward_margin"]


def test_kto_equals_trl_kto_trainer(tiny_llama, dpo_setup, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import KTOConfig, KTOTrainer

    tok = dpo_setup[0]
    data = [
        {"prompt": p["prompt"], "completion": p[side], "label": side == "chosen"}
        for p in PAIRS
        for side in ("chosen", "rejected")
    ]
    args = KTOConfig(
        output_dir=str(tmp_path),
        beta=0.2,
        report_to=[],
        use_cpu=True,
        bf16=False,
        max_length=None,
        per_device_train_batch_size=len(data),
        desirable_weight=1.0,
        undesirable_weight=1.5,
    )
    base = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    trainer = KTOTrainer(
        model=base,
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tok,
        peft_config=_lora_config(),
    )
    model = _move_off_reference(trainer.model).train()
    rows = [trainer.train_dataset[i] for i in range(len(data))]
    trl_loss = trainer._compute_loss(model, trainer.data_collator(rows), False)
    trl_loss.backward()
    trl_grads = _grads(model)
    ours_rows = [
        {
            "input_ids": r["prompt_ids"] + r["completion_ids"],
            "prompt_len": len(r["prompt_ids"]),
            "kto_label": int(r["label"]),
        }
        for r in rows
    ]
    t = TrainConfig(objective="kto", beta=0.2, kto_weights=(1.0, 1.5))
    ours = PreferenceLoss(model, t).train()(collate_kto(ours_rows, tok.pad_token_id)) / len(data)
    ours.backward()
    torch.testing.assert_close(ours, trl_loss, atol=TOL, rtol=TOL)
    _close_grads(_grads(model), trl_grads)
