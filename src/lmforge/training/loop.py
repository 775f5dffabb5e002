"""`lmforge train`: the training loop as a few short functions on Accelerate (no Trainer subclass).

One optimizer step = one window of `grad_accum` micro-batches. The loss of the window is the summed
cross-entropy of its label tokens divided by the window's label-token count (over all processes), so
batch 8 x accumulation 1 and batch 2 x accumulation 4 give the same loss and gradients.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Any

import torch

from lmforge.config import ExperimentConfig
from lmforge.errors import RunFailed, UserError
from lmforge.training.batches import count_tokens, epoch_batches, eval_batches, steps_per_epoch, windows
from lmforge.training.checkpoint import list_checkpoints, rng_state, save_checkpoint
from lmforge.training.distributed import is_sharded, no_sync, optimizer_state, trainable_tensors
from lmforge.training.fused_lora import release_cast_cache
from lmforge.training.loss import count_targets
from lmforge.training.metrics_log import peak_mem_mb, progress_bar
from lmforge.training.outputs import save_best
from lmforge.training.preference_loss import stats_row
from lmforge.training.privacy_loop import dp_step, dp_windows
from lmforge.training.state import Run
from lmforge.training.validation import eval_loss


def run_loop(run: Run) -> None:
    """Epochs of windows until `total_steps` or early stopping."""
    st, t = run.state, run.cfg.train
    acc = run.accelerator
    if st.step == 0 and run.val_units:
        baseline_eval(run)
    bar = progress_bar(run.total_steps, st.step, acc.is_main_process)
    try:
        while st.step < run.total_steps and not run.stop:
            order = epoch_batches(
                len(run.units), t.batch_size, run.cfg.seed, st.epoch, acc.process_index, acc.num_processes
            )
            started = time.perf_counter()  # tokens/s counts collation and the step, not eval or saving
            for window in _windows(run, order):
                if run.privacy and run.privacy.over_budget(st.privacy_history):
                    run.stop = True  # the next step would spend more than train.privacy.target_epsilon
                    break
                if run.compiled:
                    run.compiled.before_step(run)
                loss, n, tokens = optimizer_step(run, window)
                st.step, st.window, st.tokens = st.step + 1, st.window + 1, st.tokens + tokens
                _account(run, loss, n, tokens, time.perf_counter() - started)
                if run.compiled:
                    run.compiled.after_step(run, time.perf_counter() - started)
                bar.update(1)
                after_step(run, bar)
                if st.step >= run.total_steps or run.stop:
                    break
                started = time.perf_counter()
            else:
                st.epoch, st.window = st.epoch + 1, 0
    finally:
        bar.close()
        if run.compiled:
            run.compiled.stop()  # final eval and saving run eager


def _windows(run: Run, order: list[list[int]]) -> Any:
    st = run.state
    if run.privacy:  # Poisson-sampled units instead of the epoch's shuffled order
        return dp_windows(run, st.epoch, st.window)
    return windows(run.units, order, run.cfg.train.grad_accum, st.window, run.collate, run.pad_id)


def optimizer_step(run: Run, window: list[dict[str, torch.Tensor]]) -> tuple[float, int, int]:
    """Backward the window, stop on a non-finite loss, then clip, step and schedule (once per window).

    Returns (mean loss of the window, its label tokens, its input tokens), over all processes.
    """
    if run.privacy:
        return dp_step(run, window)
    if run.grpo:  # sample, score, update (training/grpo.py)
        out = run.grpo.step(run, window)
        run.scheduler.step()
        return out
    acc = run.accelerator
    window = [{k: v.to(acc.device) for k, v in b.items()} for b in window]
    if run.compiled:  # train.compile (training/compiled.py): pads packed batches to one shape
        total, local_n = run.compiled.backward(run, window)
    else:
        total, local_n = backward_window(acc, run.wrapped, window)
    tokens = sum(count_tokens(b) for b in window)
    stats = torch.tensor([float(total), float(local_n), float(tokens)])
    if acc.num_processes > 1:  # log the window of all processes, not rank 0's share
        stats = acc.reduce(stats.to(acc.device), "sum").cpu()
    total_sum, n, tokens = float(stats[0]), int(stats[1]), int(stats[2])
    loss = total_sum / max(n, 1)
    if not math.isfinite(loss):
        run.optimizer.zero_grad(set_to_none=True)
        kept = list_checkpoints(run.out)
        where = f"the last good checkpoint is {kept[-1]}" if kept else "no checkpoint had been saved yet"
        raise RunFailed(f"loss is {loss} at step {run.state.step + 1}; training stopped, {where}")
    if run.cfg.train.max_grad_norm:
        acc.clip_grad_norm_(run.model.parameters(), run.cfg.train.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return loss, n, tokens


def backward_window(acc: Any, model: Any, window: list[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, int]:
    """Backward each micro-batch with loss = its CE sum / the window's label tokens (all processes).

    Returns (summed CE of this process's window, its label-token count); gradients are left in .grad.
    """
    local_n = sum(count_targets(b) for b in window)
    global_n = local_n
    if acc.num_processes > 1:
        global_n = int(acc.reduce(torch.tensor(local_n, device=acc.device), "sum"))
    # DDP averages gradients over processes: scale by the world size to get sum / global count.
    scale = acc.num_processes / max(global_n, 1)
    total = torch.zeros((), device=acc.device)
    model.train()
    for i, batch in enumerate(window):
        # autocast here too: an FSDP-sharded module is not prepared (wrapped) by Accelerate
        with nullcontext() if i == len(window) - 1 else no_sync(acc, model), acc.autocast():
            part = model(batch)
            acc.backward(part * scale)
        total += part.detach()
    release_cast_cache()
    return total, local_n


def _account(run: Run, loss: float, n: int, tokens: int, seconds: float) -> None:
    w = run.window_stats
    w["loss"] += loss * n
    w["n"] += n
    w["tokens"] += tokens
    w["time"] += seconds


def after_step(run: Run, bar: Any) -> None:
    """Log, evaluate, checkpoint, call callbacks: each on its own schedule."""
    st, t = run.state, run.cfg.train
    last = st.step >= run.total_steps
    row: dict[str, Any] = {}
    if st.step % t.log_every == 0 or last:
        row.update(_train_row(run))
    if run.val_units and ((t.eval_every and st.step % t.eval_every == 0) or last):
        val = validate(run)
        row = {**(row or _state_row(run)), **val}  # an evaluation-only row still says where the run is
    if row:
        row = {"step": st.step, "epoch": round(st.epoch + st.window / run.epoch_steps, 4), **row}
        if run.privacy:
            row["epsilon"] = round(run.privacy.epsilon(st.privacy_history), 4)
        run.log.write(row)
        run.last.update(row)
        shown = {"loss": "loss", "lr": "lr", "tokens_per_s": "tok/s", "val_loss": "val_loss"}
        bar.set_postfix({name: f"{run.last[k]:.4g}" for k, name in shown.items() if k in run.last})
    if st.step % t.save_every == 0 and not last and not run.stop:
        save(run)
    for callback in run.callbacks:
        callback(run, row)


def save(run: Run) -> None:
    """Checkpoint on the main process, with every process's RNG state (dropout masks differ by rank).

    A sharded model's tensors and optimizer state live on every process, so then all of them gather."""
    from accelerate.utils import gather_object

    acc, t = run.accelerator, run.cfg.train
    rngs = gather_object([rng_state()]) if acc.num_processes > 1 else [rng_state()]
    if acc.is_main_process or is_sharded(run.model):
        tensors, optim = trainable_tensors(run.model), optimizer_state(run.model, run.optimizer)
    if acc.is_main_process:
        save_checkpoint(
            run.out,
            tensors,
            optim,
            run.scheduler,
            run.state,
            run.config_yaml,
            t.keep,
            getattr(acc, "scaler", None),
            rngs,
        )
    acc.wait_for_everyone()


def _state_row(run: Run) -> dict[str, Any]:
    """What a row between train rows can say: lr, tokens so far, peak memory (no window loss or speed)."""
    return {"lr": run.scheduler.get_last_lr()[0], "tokens": run.state.tokens, "peak_mem_mb": peak_mem_mb()}


def _train_row(run: Run) -> dict[str, Any]:
    w = run.window_stats
    row = {
        "loss": w["loss"] / max(w["n"], 1),
        **_state_row(run),
        "tokens_per_s": round(w["tokens"] / max(w["time"], 1e-9), 1),
        **stats_row(run.wrapped),  # preference objectives: rewards/chosen, rewards/rejected, margin, accuracy
        **(run.grpo.stats_row() if run.grpo else {}),  # grpo: rewards per function, clipping, KL, lengths
    }
    run.window_stats = {"loss": 0.0, "n": 0, "tokens": 0, "time": 0.0}
    return row


def validate(run: Run) -> dict[str, float]:
    """Val loss and perplexity; tracks the best (saved to best/) and early stopping."""
    res = _val_loss(run)
    st, es = run.state, run.cfg.train.early_stopping
    min_delta = es.min_delta if es else 0.0
    if st.best_val is None or res["loss"] < st.best_val - min_delta:
        st.best_val, st.best_step, st.bad_evals = res["loss"], st.step, 0
        save_best(run)
    else:
        st.bad_evals += 1
        run.stop = es is not None and st.bad_evals >= es.patience
    return {"val_loss": res["loss"], "val_perplexity": res["perplexity"], **stats_row(run.wrapped, "val")}


def baseline_eval(run: Run) -> None:
    """Val loss of the untrained model, logged as step 0 (the start of the curve; not a 'best')."""
    res = _val_loss(run)
    row = {
        "step": 0,
        "epoch": 0.0,
        **_state_row(run),
        "val_loss": res["loss"],
        "val_perplexity": res["perplexity"],
    }
    row.update(stats_row(run.wrapped, "val"))
    run.log.write(row)
    run.last.update(row)


def _val_loss(run: Run) -> dict[str, float]:
    with run.accelerator.autocast(), run.compiled.eager() if run.compiled else nullcontext():
        batches = eval_batches(run.val_units, run.cfg.train.batch_size, run.collate, run.pad_id)
        return eval_loss(run.wrapped, batches, forward=run.wrapped)


def plan_steps(n_units: int, cfg: ExperimentConfig, world: int) -> tuple[int, int]:
    """(total optimizer steps, steps per epoch): max_steps wins, else ceil(epochs x steps per epoch)."""
    t = cfg.train
    per_epoch = steps_per_epoch(n_units, t.batch_size, t.grad_accum, world)
    if n_units < t.batch_size * world and world > 1:
        raise UserError(
            f"{n_units} training examples are too few for {world} processes x batch {t.batch_size}"
        )
    return (t.max_steps or math.ceil(t.epochs * per_epoch)), per_epoch
