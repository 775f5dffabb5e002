"""A request's life in `lmforge serve`: checked, turned into batcher rows (then streamed or collected by
responding.py).

The routes (server.py) hand each parsed body here. Its prompts are measured in characters, then tokenised
on a thread of their own (a long prompt must not hold up the event loop, which serves every stream and
/health). OpenAI's checks come next (model name, context length, n, this server's max_tokens cap), then the
job is queued; its events come back from the worker thread through an asyncio queue. A client that
leaves, or a request past its timeout, has its rows withdrawn: a queued job leaves the queue, a running
row stops at its next token.

>>> job = service.job(ChatRequest.model_validate(body), prompts, "messages", emit=print)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lmforge.errors import UserError
from lmforge.formatting.templates import encode_prompt, ensure_chat_template, token_ids
from lmforge.formatting.tool_parse import THINK_OPEN
from lmforge.formatting.tool_template import prepare_template
from lmforge.inference.batcher import Batcher, Event, Job, Row
from lmforge.inference.sampling import fold_seed
from lmforge.inference.schemas import ChatRequest, CompletionRequest, error_body
from lmforge.inference.tool_replies import ToolPlan, plan_for
from lmforge.inference.tool_schemas import tool_problem

POLL_S = 0.25  # how often a waiting request checks that its client is still there


class APIError(Exception):
    """An error answered as OpenAI's JSON: status, message, type, param, code."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param=None, code=None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, kind, param, code)


class Service:
    """What the routes share: the batcher, the tokenizer, the served name and the request policies."""

    def __init__(
        self,
        batcher: Batcher,
        tokenizer: Any,
        name: str,
        timeout_s: float,
        default_max_tokens: int,
        max_tokens_limit: int | None = None,
    ):
        self.batcher, self.tokenizer, self.name = batcher, tokenizer, name
        # lmforge's default tool branch around a template without one (a conversation without tools
        # renders as before): what training with tools writes into the saved template
        template = prepare_template(ensure_chat_template(tokenizer), tools=True).chat_template
        self.template = template if isinstance(template, str) else ""
        self.timeout_s, self.default_max_tokens = timeout_s, default_max_tokens
        self.max_tokens_limit = max_tokens_limit or batcher.context
        # no prompt longer than this can fit: every token covers at most its longest vocabulary entry
        self.max_prompt_chars = batcher.context * longest_token(tokenizer)
        self.tokenizing = ThreadPoolExecutor(1, thread_name_prefix="lmforge-tokenize")
        self.created = int(time.time())

    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.name:
            raise APIError(
                404,
                f"The model '{model}' does not exist; this server serves '{self.name}'",
                param="model",
                code="model_not_found",
            )

    def check_chars(self, texts: list[str], param: str) -> None:
        """Refuse, before tokenising, a prompt too long in characters for the context to hold."""
        chars = max(map(len, texts), default=0)
        if chars > self.max_prompt_chars:
            raise APIError(
                400,
                f"This model's maximum context length is {self.batcher.context} tokens; a {param} of "
                f"{chars} characters cannot fit (at most {self.max_prompt_chars} characters).",
                param=param,
                code="context_length_exceeded",
            )

    def tool_plan(self, req: ChatRequest) -> ToolPlan:
        """What the request's tools and tool_choice make of the prompt and the reply; 400 on bad ones."""
        tools = req.tools or []
        problem = tool_problem(req.messages, tools, req.tool_choice)
        if problem:
            raise APIError(400, problem[0], param=problem[1])
        choice = req.tool_choice.model_dump() if hasattr(req.tool_choice, "model_dump") else req.tool_choice
        # `strict` is the API's promise of schema-true arguments (not enforced here: docs/deploy.md),
        # not part of the function the model reads: training data's tools do not carry it
        dumped = [t.model_dump(exclude_none=True, exclude={"function": {"strict"}}) for t in tools]
        return plan_for(dumped, choice, self.template, req.parallel_tool_calls)

    def chat_prompts(self, req: ChatRequest) -> list[list[int]]:
        """The conversation through the chat template (with the plan's tools), plus a forced call's opening."""
        plan = self.tool_plan(req)
        messages = [m.for_template() for m in req.messages]
        self.check_chars([json.dumps([messages, plan.tools], ensure_ascii=False)], "messages")
        try:
            prompt = encode_prompt(self.tokenizer, messages, tools=plan.tools)
        except UserError as e:  # the chat template refused the conversation
            raise APIError(400, str(e), param="messages") from None
        return [prompt + (token_ids(self.tokenizer, [plan.prefill])[0] if plan.prefill else [])]

    def thinking_open(self, prompt: list[int]) -> bool:
        """Whether the prompt's generation header opens a `<think>` block (DeepSeek-R1's template does)."""
        return self.tokenizer.decode(prompt[-8:]).rstrip().endswith(THINK_OPEN)

    def completion_prompts(self, req: CompletionRequest) -> list[list[int]]:
        p = req.prompt
        if isinstance(p, str) or (p and isinstance(p[0], str)):
            texts = [p] if isinstance(p, str) else p
            self.check_chars(texts, "prompt")
            prompts = [self.tokenizer(t)["input_ids"] for t in texts]  # as `generate --raw` encodes
        else:
            prompts = [p] if p and isinstance(p[0], int) else list(p)
        vocab = len(self.tokenizer)
        if not prompts or any(not q or min(q) < 0 or max(q) >= vocab for q in prompts):
            raise APIError(400, "'prompt' is empty or has token ids outside the vocabulary", param="prompt")
        return prompts

    def job(self, req: ChatRequest | CompletionRequest, prompts: list[list[int]], param: str, emit) -> Job:
        """Rows for every prompt x n, after the context checks OpenAI makes."""
        refused = req.refused_field()
        if refused:
            raise APIError(400, f"'{refused}' is not supported by lmforge serve", param=refused)
        self.check_model(req.model)
        budget = self.budget(req, max(map(len, prompts)), param)
        rows = [
            Row(
                prompt=q,
                max_tokens=budget,
                temperature=req.temperature,
                top_p=req.top_p,
                seed=None if req.seed is None else fold_seed(req.seed + k * req.n + c),
                stops=req.stop_list(),
            )
            for k, q in enumerate(prompts)
            for c in range(req.n)
        ]
        if len(rows) > self.batcher.max_batch:
            raise APIError(
                400,
                f"n x prompts = {len(rows)} exceeds this server's --max-batch {self.batcher.max_batch}",
                param="n",
            )
        return Job(rows, emit, timeout_s=self.timeout_s)

    def budget(self, req: ChatRequest | CompletionRequest, longest: int, param: str) -> int:
        """max_tokens for every row: the request's, or the default that fits beside the longest prompt.

        Left padding makes every row as wide as the longest prompt, so it is the one the context must hold."""
        asked = req.token_budget()
        room = self.batcher.context - longest
        wanted = asked or min(self.default_max_tokens, self.max_tokens_limit, room)
        if room < 1 or wanted > room:
            raise APIError(
                400,
                f"This model's maximum context length is {self.batcher.context} tokens. However, you "
                f"requested {longest + max(wanted, 1)} tokens ({longest} in the {param}, {max(wanted, 1)} "
                "in the completion). Please reduce the length of the prompt or the completion.",
                param=param,
                code="context_length_exceeded",
            )
        if wanted > self.max_tokens_limit:
            raise APIError(
                400,
                f"max_tokens is too large: {wanted}. This server allows at most {self.max_tokens_limit} "
                "completion tokens (--max-tokens-limit).",
                param="max_tokens",
            )
        return wanted


def longest_token(tokenizer: Any) -> int:
    """Characters in the tokenizer's longest vocabulary entry (byte-level entries count bytes, more than
    the characters they decode to, so the bound only errs long). 32 when the vocabulary is not listed."""
    try:
        return max(map(len, tokenizer.get_vocab()), default=32) or 32
    except (AttributeError, NotImplementedError):
        return 32


def check_expired(service: Service, job: Job) -> None:
    """A job still queued past its timeout is answered here; the worker stops running ones itself."""
    if job.expired():
        withdraw(service, job)
        raise APIError(
            504, f"The request timed out after {service.timeout_s:g} s", "timeout_error", code="timeout"
        )


def raise_for(event: Event) -> None:
    if event.reason == "timeout":
        raise APIError(504, "The request timed out while generating", "timeout_error", code="timeout")
    if event.reason == "error":
        raise APIError(500, f"generation failed: {event.error}", "server_error")


def withdraw(service: Service, job: Job) -> None:
    job.cancelled = True  # a running row stops at its next token
    service.batcher.withdraw(job)  # a queued one leaves the queue now
