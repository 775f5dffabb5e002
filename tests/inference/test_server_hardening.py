"""`lmforge serve` against requests that used to break it (issue #29 item 4): each test failed before.

A keyless server on the tiny Llama for what travels over HTTP (degenerate sampling values beside ordinary
chats, an 8 MB body, a foreign Host, /docs, a non-streaming client that leaves); the batcher and the
service in-process for what needs a hand on the rows (a failing row, a job wider than the context, the
prompt-length check before tokenising); `main([...])` for the refusals at start-up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from tests.inference.test_server import _start, _stop  # noqa: E402

from lmforge.cli import main  # noqa: E402
from lmforge.errors import UserError  # noqa: E402
from lmforge.inference.batcher import Batcher, Job, Row  # noqa: E402
from lmforge.inference.generation import load_for_inference  # noqa: E402
from lmforge.inference.schemas import ChatRequest, CompletionRequest  # noqa: E402
from lmforge.inference.service import APIError, Service  # noqa: E402

QUESTIONS = ["What is 2+2?", "Name a colour.", "Say hi.", "Where is Paris?"]


@pytest.fixture(scope="module")
def open_server(tiny_llama, tmp_path_factory):
    proc, url = _start(tiny_llama, tmp_path_factory.mktemp("open") / "log.txt")
    yield url
    _stop(proc)


def _health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=5).json()


def _chat(url: str, question: str, **extra) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": question}], "max_tokens": 12, "temperature": 0, **extra}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)


def _text(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def test_degenerate_sampling_values_do_not_disturb_their_batch(open_server):
    alone = [_text(_chat(open_server, q)) for q in QUESTIONS]
    odd = [
        {"temperature": 1.0, "top_p": 0},  # 0 / 0 in top-p: now greedy
        {"temperature": 1e-40},  # scores / 1e-40 overflow: now greedy
        {"temperature": 1.0, "seed": 2**70},  # manual_seed raised: now folded into 63 bits
        {"max_tokens": 10**6},  # far past the context: a 400
    ]
    start = threading.Barrier(len(QUESTIONS) + len(odd))

    def ask(i: int) -> httpx.Response:
        start.wait()
        extra = odd[i - len(QUESTIONS)] if i >= len(QUESTIONS) else {}
        return _chat(open_server, QUESTIONS[i % len(QUESTIONS)], **extra)

    before = _health(open_server)["batches"]
    with ThreadPoolExecutor(len(QUESTIONS) + len(odd)) as pool:
        answers = list(pool.map(ask, range(len(QUESTIONS) + len(odd))))
    assert [_text(r) for r in answers[: len(QUESTIONS)]] == alone
    assert [r.status_code for r in answers[len(QUESTIONS) :]] == [200, 200, 200, 400]
    assert _text(answers[4]) == alone[0] and _text(answers[5]) == alone[1]  # greedy, as they should be
    assert _health(open_server)["batches"] - before < len(answers)  # some of them did share a batch


def test_an_8_mb_body_gets_413(open_server):
    big = {"prompt": "word " * (8 << 18), "max_tokens": 1}  # 8 MiB of prompt
    r = httpx.post(f"{open_server}/v1/completions", json=big, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit counts what arrives
        for _ in range(8):
            yield b" " * (1 << 20)

    r = httpx.post(f"{open_server}/v1/completions", content=chunks(), timeout=60)
    assert r.status_code == 413
    assert _health(open_server)["status"] == "ok"


def test_a_foreign_host_gets_403_without_a_key(open_server):
    port = open_server.rsplit(":", 1)[1]
    for path in ("/health", "/v1/models"):
        r = httpx.get(f"{open_server}{path}", headers={"Host": f"attacker.example:{port}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_host"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]"):
        assert httpx.get(f"{open_server}/v1/models", headers={"Host": host}).status_code == 200


def test_docs_and_openapi_are_off(open_server):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert httpx.get(f"{open_server}{path}").status_code == 404


def test_a_non_streaming_client_that_leaves_stops_its_generation(open_server):
    before = _health(open_server)
    body = {"prompt": "Talk forever", "max_tokens": 1000, "temperature": 0}
    with pytest.raises(httpx.TimeoutException):  # the client gives up and closes its connection
        httpx.post(f"{open_server}/v1/completions", json=body, timeout=0.5)
    deadline = time.monotonic() + 10
    while (h := _health(open_server))["active_rows"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h["cancelled"] == before["cancelled"] + 1
    assert h["tokens"] - before["tokens"] < 1000  # it stopped early


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return load_for_inference(tiny_llama)


def _events(rows: list[Row]) -> tuple[Job, list]:
    events: list = []
    return Job(rows, events.append), events


def _done(events: list) -> tuple[str, str, str | None]:
    return "".join(e.text for e in events), events[-1].reason, events[-1].error


def test_a_row_that_fails_fails_alone(llama):
    model, tok = llama
    b = Batcher(model, tok)
    greedy = {"prompt": tok("Hello")["input_ids"], "max_tokens": 8}
    job, events = _events([Row(**greedy)])
    b._run([job])
    alone = _done(events)
    jobs = [
        _events([Row(**greedy)]),
        _events([Row(**greedy, temperature=float("nan"))]),  # softmax of NaN: multinomial raises
        _events([Row(**greedy, temperature=1.0, seed=2**70)]),  # manual_seed raised on it
    ]
    b._run([j for j, _ in jobs])
    assert _done(jobs[0][1]) == alone
    text, reason, error = _done(jobs[1][1])
    assert reason == "error" and "RuntimeError" in error
    assert _done(jobs[2][1])[1] == "length"


def test_a_job_wider_than_the_context_fails_alone(tiny_gpt2):
    model, tok = load_for_inference(tiny_gpt2)  # learned positions: past 1024 is an IndexError
    b = Batcher(model, tok)
    small = {"prompt": tok("The capital of France is")["input_ids"], "max_tokens": 6}
    job, events = _events([Row(**small)])
    b._run([job])
    alone = _done(events)
    wide, wide_events = _events([Row(prompt=[5] * 1000, max_tokens=10), Row(prompt=[5] * 5, max_tokens=500)])
    job, events = _events([Row(**small)])
    b._run([wide, job])
    assert _done(events) == alone
    assert {e.reason for e in wide_events} == {"error"} and "context" in wide_events[-1].error


def test_no_pad_and_no_eos_is_a_user_error(tiny_gpt2):
    model, tok = load_for_inference(tiny_gpt2)
    tok.pad_token, tok.eos_token = None, None
    model.generation_config.eos_token_id = None
    with pytest.raises(UserError, match="neither a pad nor an EOS"):
        Batcher(model, tok)


class CountingTokenizer:
    """The real tokenizer, counting (and optionally slowing) its encode calls."""

    def __init__(self, tok, delay_s: float = 0.0) -> None:
        self.tok, self.delay_s, self.calls, self.done = tok, delay_s, 0, threading.Event()

    def __call__(self, *args, **kwargs):
        self.calls += 1
        time.sleep(self.delay_s)
        self.done.set()
        return self.tok(*args, **kwargs)

    def __len__(self) -> int:
        return len(self.tok)

    def __getattr__(self, name: str):
        return getattr(self.tok, name)


def _service(llama, **kw) -> Service:
    model, tok = llama
    return Service(Batcher(model, tok), tok, "tiny", 60.0, 512, **kw)


def test_prompt_length_is_checked_before_tokenising(llama):
    service = _service(llama)
    service.tokenizer = counting = CountingTokenizer(llama[1])
    huge = "word " * 300_000  # 1.5 MB: under the body limit, far over what 1,024 tokens can hold
    with pytest.raises(APIError) as e:
        service.completion_prompts(CompletionRequest.model_validate({"prompt": huge}))
    assert e.value.status == 400 and e.value.body["error"]["code"] == "context_length_exceeded"
    assert counting.calls == 0
    chat = ChatRequest.model_validate({"messages": [{"role": "user", "content": huge}]})
    with pytest.raises(APIError) as e:
        service.chat_prompts(chat)
    assert e.value.body["error"]["code"] == "context_length_exceeded"


def test_max_tokens_limit_and_job_width(llama):
    service = _service(llama, max_tokens_limit=64)

    def rows(body: dict) -> list[Row]:
        req = CompletionRequest.model_validate(body)
        return service.job(req, service.completion_prompts(req), "prompt", emit=print).rows

    with pytest.raises(APIError) as e:
        rows({"prompt": "Hi", "max_tokens": 100})
    assert e.value.status == 400 and e.value.body["error"]["param"] == "max_tokens"
    assert [r.max_tokens for r in rows({"prompt": "Hi", "max_tokens": None})] == [64]  # default capped
    mixed = rows({"prompt": [[5] * 1000, [5] * 5], "max_tokens": None})  # both rows fit beside the longest
    assert [r.max_tokens for r in mixed] == [24, 24] and Job(mixed, print).width() <= 1024
    seeded = rows({"prompt": "Hi", "seed": 2**70, "n": 2, "temperature": 1.0})
    assert all(0 <= r.seed < 2**63 for r in seeded)


def test_tokenising_does_not_hold_up_the_event_loop(llama):
    """/health answers while a slow tokenisation runs (it ran on the event loop before)."""
    from lmforge.inference.server import create_app

    service = _service(llama)
    service.tokenizer = slow = CountingTokenizer(llama[1], delay_s=2.0)
    app = create_app(service)

    async def scenario() -> bool:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            body = {"prompt": "Hello", "max_tokens": 2}
            request = asyncio.create_task(c.post("/v1/completions", json=body))
            while not slow.calls:  # until the slow request is tokenising
                await asyncio.sleep(0.01)
            assert (await c.get("/health")).status_code == 200
            answered_during = not slow.done.is_set()
            request.cancel()
            return answered_during

    assert asyncio.run(scenario())


def test_start_up_refusals(tiny_llama, monkeypatch, capsys):
    """Port 70000 cannot be bound: a check that lets a start through ends there, not in a server."""
    serve = ["serve", tiny_llama, "--port", "70000"]
    monkeypatch.delenv("LMFORGE_API_KEY", raising=False)
    assert main([*serve, "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--api-key" in err and "--insecure-open" in err and err.count("\n") == 1
    for flag in ("--timeout", "--batch-window-ms"):
        assert main([*serve, flag, "nan"]) == 2
        assert flag in capsys.readouterr().err
    monkeypatch.setenv("LMFORGE_API_KEY", "sk-env")  # a key from the environment, off argv
    assert main([*serve, "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "cannot listen" in err and "shows in `ps`" not in err
    monkeypatch.delenv("LMFORGE_API_KEY")
    assert main([*serve, "--host", "0.0.0.0", "--api-key", "sk-argv"]) == 2
    err = capsys.readouterr().err
    assert "shows in `ps`" in err and "LMFORGE_API_KEY" in err and "cannot listen" in err
    assert main([*serve, "--host", "0.0.0.0", "--insecure-open"]) == 2
    assert "cannot listen" in capsys.readouterr().err
