"""The dynamic batcher behind `lmforge serve`: one worker thread owns the model and runs batches of requests.

Requests that arrive within `window_s` of the first waiting one (and any that queued while a batch ran) are
generated together: left-padded into one `model.generate` call. Each row keeps its own sampling (temperature,
top_p, a seeded generator), token budget and stop strings, applied per row by a logits processor and a
stopping criterion, so a row's answer does not depend on its batch-mates: greedy rows in a batch equal the
same requests served one by one, and a seeded row samples the same tokens whatever runs beside it.
transformers' `generate` takes one sampling setting and one budget per call; these two hooks are the part
it does not do. A bounded queue refuses work past `max_queue` (the server answers 503). A row that fails
(its sampling, its decoding) ends alone with reason "error"; a job too wide for the context never runs.

>>> b = Batcher(model, tok); b.start()  # doctest: +SKIP
>>> b.submit(Job([Row(prompt=[1, 2, 3], max_tokens=8)], emit=print))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from lmforge.errors import UserError
from lmforge.inference.detokenize import IncrementalText
from lmforge.inference.generation import eos_ids, left_pad
from lmforge.inference.sampling import RowSampler
from lmforge.inference.stop_text import held_back, visible_end
from lmforge.models import pad_token_id

log = logging.getLogger("lmforge.serve")


class QueueFull(Exception):
    """More requests are waiting than the server takes (the server answers 503)."""


@dataclass
class Event:
    """What the worker reports for one row: a piece of text, and at the end a finish reason."""

    index: int  # the row's index in its job (the choice index)
    text: str = ""
    reason: str | None = None  # stop | length | timeout | cancelled | error; None while generating
    tokens: int = 0  # generated tokens so far (EOS included), set on the last event
    error: str | None = None


@dataclass
class Row:
    """One sequence to generate: a prompt's token ids and how to continue it."""

    prompt: list[int]
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stops: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    sent: int = 0  # characters of `text` already reported
    detok: IncrementalText | None = None  # set by the batcher: text a few tokens at a time
    reason: str | None = None
    error: str | None = None  # why this row failed (set by the sampler or the stopping criterion)


@dataclass(eq=False)  # a job is itself: found in the queue by identity
class Job:
    """One request: its rows (n choices, or several prompts) and where their events go.

    `emit` is called from the worker thread; `cancelled` is set by the server when the client leaves."""

    rows: list[Row]
    emit: Callable[[Event], None]
    timeout_s: float = 600.0
    arrived: float = field(default_factory=time.monotonic)
    cancelled: bool = False

    def expired(self) -> bool:
        return time.monotonic() > self.arrived + self.timeout_s

    def width(self) -> int:
        """Tokens its rows need side by side: the longest prompt plus the largest budget (left padding)."""
        return max(len(r.prompt) for r in self.rows) + max(r.max_tokens for r in self.rows)


class Batcher:
    """A bounded queue of jobs and the one thread that generates them, batch by batch."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_batch: int = 16,
        max_queue: int = 64,
        window_s: float = 0.05,
        context: int | None = None,
    ) -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_batch, self.max_queue, self.window_s = max_batch, max_queue, window_s
        self.context = context or context_length(model)
        self.stops, self.pad_id = eos_ids(model, tokenizer), pad_token_id(tokenizer, model)
        if self.pad_id is None:  # left padding needs an id, and generate could never stop a row
            raise UserError("the tokenizer has neither a pad nor an EOS token: cannot batch or stop rows")
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self.counts = {"requests": 0, "batches": 0, "largest_batch": 0, "tokens": 0, "cancelled": 0}
        self.active_rows = 0

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._work, name="lmforge-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def submit(self, job: Job) -> None:
        """Queue a job; QueueFull when `max_queue` jobs already wait."""
        if not 0 < len(job.rows) <= self.max_batch:
            raise ValueError(f"a job has 1 to {self.max_batch} rows, not {len(job.rows)}")
        with self._cond:
            if len(self._queue) >= self.max_queue:
                raise QueueFull(f"{len(self._queue)} requests are waiting")
            self._queue.append(job)
            self._cond.notify_all()

    def withdraw(self, job: Job) -> None:
        """Take a job out of the queue if it is still there (its client left or it timed out)."""
        with self._cond:
            if job in self._queue:
                self._queue.remove(job)
                self.counts["cancelled"] += len(job.rows)

    def stats(self) -> dict[str, int]:
        return {**self.counts, "queued": len(self._queue), "active_rows": self.active_rows}

    def _work(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            try:
                self._run(jobs)
            except Exception as e:  # a failed batch fails its requests, not the server
                log.exception("generation failed")
                for job in jobs:
                    for i, row in enumerate(job.rows):
                        if row.reason is None:
                            row.error = row.error or f"{type(e).__name__}: {e}"
                            self._finish(job, i, row, "error")
            finally:
                self.active_rows = 0

    def _take(self) -> list[Job]:
        """Wait for a job, then up to `window_s` after its arrival for more; take what fits, in order."""
        with self._cond:
            while self._running and not self._queue:
                self._cond.wait(0.5)
            if not self._running:
                return []
            end = self._queue[0].arrived + self.window_s
            while self._running and sum(len(j.rows) for j in self._queue) < self.max_batch:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            jobs: list[Job] = []
            while self._queue and self._fits(jobs, self._queue[0]):
                jobs.append(self._queue.popleft())
            return jobs

    def _fits(self, jobs: list[Job], job: Job) -> bool:
        """Room for the job's rows, and the padded batch stays inside the context for every row.

        Left padding gives every row the batch's width, so the longest prompt plus the largest budget
        must fit (positions past the context would fail for learned position embeddings, e.g. GPT-2)."""
        if not jobs:
            return True  # the first job always goes; _run refuses it if it is too wide alone
        rows = [r for j in (*jobs, job) for r in j.rows]
        width = max(len(r.prompt) for r in rows) + max(r.max_tokens for r in rows)
        return len(rows) <= self.max_batch and width <= self.context

    def _run(self, jobs: list[Job]) -> None:
        live = []
        for job in jobs:
            if job.cancelled or job.expired():
                self._finish_job(job, "cancelled" if job.cancelled else "timeout")
            elif job.width() > self.context:  # positions past the context: IndexError, a CUDA assert
                for row in job.rows:
                    row.error = (
                        f"prompt + max_tokens = {job.width()} tokens exceed the context ({self.context})"
                    )
                self._finish_job(job, "error")
            else:
                live.append(job)
        if not live:
            return
        rows = [r for j in live for r in j.rows]
        self.counts["requests"] += len(live)
        self.counts["batches"] += 1
        self.counts["largest_batch"] = max(self.counts["largest_batch"], len(rows))
        self.active_rows = len(rows)
        for r in rows:
            r.detok = IncrementalText(self.tokenizer)
        ids, mask = left_pad([r.prompt for r in rows], self.pad_id)  # (B, T)
        device = next(self.model.parameters()).device
        self.model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=max(r.max_tokens for r in rows),
            eos_token_id=self.stops,
            pad_token_id=self.pad_id,
            do_sample=False,  # RowSampler samples the rows that sample; argmax then takes its pick
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=LogitsProcessorList([RowSampler(rows)]),
            stopping_criteria=StoppingCriteriaList([RowStops(self, live)]),
        )
        for job in live:  # rows still open when generate returned ran out of room
            self._finish_job(job, "length")

    def _finish_job(self, job: Job, reason: str) -> None:
        for i, row in enumerate(job.rows):
            if row.reason is None:
                self._finish(job, i, row, reason)

    def _finish(self, job: Job, i: int, row: Row, reason: str, cut: bool = False) -> None:
        if row.detok is not None and not cut and reason != "error":  # a held incomplete character
            row.text += row.detok.flush(row.tokens)
        row.reason = reason
        self.counts["cancelled"] += reason == "cancelled"
        job.emit(Event(i, row.text[row.sent :], reason, tokens=len(row.tokens), error=row.error))
        row.sent = len(row.text)

    def step(self, job: Job, i: int, row: Row, token: int) -> None:
        """One new token for an open row: extend its text, report what is safe to show, maybe finish it."""
        if row.error:  # its sampling failed: the token in its slot is argmax's stand-in, not an answer
            return self._finish(job, i, row, "error")
        row.tokens.append(token)
        self.counts["tokens"] += 1
        if token in self.stops:
            return self._finish(job, i, row, "stop")
        new = row.detok.add(row.tokens)
        row.text += new
        cut = visible_end(row.text, row.stops, new=len(new))
        if cut is not None:
            row.text = row.text[:cut]
            return self._finish(job, i, row, "stop", cut=True)
        if len(row.tokens) >= row.max_tokens or len(row.prompt) + len(row.tokens) >= self.context:
            return self._finish(job, i, row, "length")
        if job.cancelled or job.expired():
            return self._finish(job, i, row, "cancelled" if job.cancelled else "timeout")
        end = len(row.text) - held_back(row.text, row.stops)
        if end > row.sent:
            job.emit(Event(i, row.text[row.sent : end]))
            row.sent = end


class RowStops(StoppingCriteria):
    """Per row: EOS, stop strings, max_tokens, the context, a cancelled or timed-out request."""

    def __init__(self, batcher: Batcher, jobs: list[Job]) -> None:
        self.batcher = batcher
        self.slots = [(job, i, row) for job in jobs for i, row in enumerate(job.rows)]

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        last = input_ids[:, -1].tolist()  # (B,) the token each row just got
        for (job, i, row), token in zip(self.slots, last, strict=True):
            if row.reason is None:
                try:
                    self.batcher.step(job, i, row, token)
                except Exception as e:  # this row fails alone (a decode error, ...); the batch goes on
                    log.exception("a row failed")
                    row.error = f"{type(e).__name__}: {e}"
                    self.batcher._finish(job, i, row, "error")
        self.batcher.active_rows = sum(row.reason is None for _, _, row in self.slots)
        return torch.tensor([row.reason is not None for _, _, row in self.slots], device=input_ids.device)


def context_length(model: Any) -> int:
    """The model's context in tokens (max_position_embeddings, n_positions for GPT-2), 2048 if it names none."""
    cfg = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048
