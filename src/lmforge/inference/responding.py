"""A request's rows, answered: streamed as server-sent events, or collected into one response.

Split from service.py (the request's checks and prompts): `answer` tokenises off the event loop, queues
the job, then `stream`s or `collect`s its events; chat replies go through tool_replies.py (content,
reasoning_content, tool_calls).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from lmforge.inference.batcher import Event, Job, QueueFull
from lmforge.inference.schemas import (
    ChatRequest,
    chat_chunk,
    chat_response,
    completion_chunk,
    completion_response,
    new_id,
    usage,
    usage_chunk,
)
from lmforge.inference.service import POLL_S, APIError, Service, check_expired, raise_for, withdraw
from lmforge.inference.tool_replies import ReplyStream, ToolPlan, reply_message


async def answer(service: Service, request: Any, req: Any, make_prompts: Any, param: str):
    """Tokenise off the event loop, queue the request's rows, then stream them or wait for all of them."""
    loop = asyncio.get_running_loop()
    chat = isinstance(req, ChatRequest)
    plan = service.tool_plan(req) if chat else None  # a bad tool field is a 400 before any tokenising
    prompts = await loop.run_in_executor(service.tokenizing, make_prompts, req)
    if plan is not None:
        plan.thinking_open = service.thinking_open(prompts[0])
    events: asyncio.Queue[Event] = asyncio.Queue()

    def emit(event: Event) -> None:  # called from the worker thread
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:  # the loop has closed (shutting down): nobody is waiting
            pass

    job = service.job(req, prompts, param, emit)
    try:
        service.batcher.submit(job)
    except QueueFull:
        raise APIError(
            503,
            "The server is overloaded: too many requests are waiting; retry later",
            "server_error",
            code="overloaded",
        ) from None
    rid = new_id("chatcmpl" if chat else "cmpl")
    if req.stream:
        from sse_starlette import EventSourceResponse

        return EventSourceResponse(stream(service, job, events, req, rid, prompts, plan), sep="\n")
    texts, reasons, tokens = await collect(service, request, job, events)
    use = usage(sum(map(len, prompts)), sum(tokens))
    if plan is None:
        return completion_response(rid, service.name, list(zip(texts, reasons, strict=True)), use)
    replies = [reply_message(text, reason, plan) for text, reason in zip(texts, reasons, strict=True)]
    return chat_response(rid, service.name, replies, use)


async def collect(service: Service, request: Any, job: Job, events: asyncio.Queue) -> tuple:
    """Wait for every row's last event; stop the rows if the client disconnects.

    The client is looked for every POLL_S on the clock, not only when no event came for POLL_S: a row
    emits a piece per token, so an answer in progress would otherwise never notice its reader had left."""
    n = len(job.rows)
    texts, reasons, tokens = [""] * n, [None] * n, [0] * n
    next_look = time.monotonic() + POLL_S
    try:
        while None in reasons:
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + POLL_S
                if await request.is_disconnected():  # nobody reads the answer: stop the rows
                    raise APIError(400, "the client disconnected")
                check_expired(service, job)
            try:
                event = await asyncio.wait_for(events.get(), max(next_look - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                continue
            texts[event.index] += event.text
            if event.reason is not None:
                reasons[event.index], tokens[event.index] = event.reason, event.tokens
                raise_for(event)
    finally:
        if None in reasons:  # disconnected, timed out or failed: the worker drops what is left
            withdraw(service, job)
    return texts, reasons, tokens


async def stream(
    service: Service,
    job: Job,
    events: asyncio.Queue,
    req: Any,
    rid: str,
    prompts: list,
    plan: ToolPlan | None,
):
    """Server-sent events as OpenAI sends them; sse-starlette cancels this when the client leaves.
    A chat reply goes through a ReplyStream: content, reasoning and tool calls as their own deltas."""
    chat, name = plan is not None, service.name
    left, tokens = len(job.rows), 0
    replies = [ReplyStream(plan) for _ in job.rows] if plan is not None else []
    try:
        if chat:
            for i in range(len(job.rows)):
                yield json.dumps(chat_chunk(rid, name, i, {"role": "assistant", "content": ""}, None))
        while left:
            try:
                event = await asyncio.wait_for(events.get(), POLL_S)
            except asyncio.TimeoutError:
                check_expired(service, job)
                continue
            reason = event.reason
            if reason is not None:
                left, tokens = left - 1, tokens + event.tokens
                raise_for(event)
            if chat:
                reply = replies[event.index]
                deltas = reply.feed(event.text) if event.text else []
                if reason is not None:
                    last, reason = reply.finish(reason)
                    deltas += last
                for delta in deltas:
                    yield json.dumps(chat_chunk(rid, name, event.index, delta, None))
                if reason is not None:
                    yield json.dumps(chat_chunk(rid, name, event.index, {}, reason))
            elif event.text or reason is not None:
                yield json.dumps(completion_chunk(rid, name, event.index, event.text, reason))
        if req.include_usage():
            obj = "chat.completion.chunk" if chat else "text_completion"
            yield json.dumps(usage_chunk(rid, name, obj, usage(sum(map(len, prompts)), tokens)))
        yield "[DONE]"
    except APIError as e:  # the status line has gone out: the error travels as an event, as OpenAI's does
        yield json.dumps(e.body)
        yield "[DONE]"
    finally:
        if left:
            withdraw(service, job)
