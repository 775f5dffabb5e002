"""`lmforge serve` as a real process on a loopback port, driven by the official `openai` client.

Two servers on the tiny Llama fixture: the main one (API key, batching) and a cramped one (`--max-batch 1
--max-queue 1 --timeout 1`) for the 503 and timeout answers. The tiny random model never emits EOS in
these prompts, so every answer runs to max_tokens unless a stop string, a disconnect or a timeout ends it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from lmforge.cli import main  # noqa: E402
from lmforge.inference.generation import generate, load_for_inference  # noqa: E402

KEY = "sk-test-key"
RAW_PROMPTS = ["Hello", "The capital of France is", "Once upon a time", "def f(x):", "1 2 3 4", "Q: why?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(model: str, log_path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "lmforge.cli", "serve", model, "--port", str(port), "--name", "tiny", *extra]
    log = open(log_path, "w")  # a file, not a pipe: a full pipe would block the server
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}:\n{open(log_path).read()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not answer /health within 120 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tiny_llama, tmp_path_factory):
    proc, url = _start(tiny_llama, tmp_path_factory.mktemp("serve") / "log.txt", "--api-key", KEY)
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def cramped(tiny_llama, tmp_path_factory):
    args = ("--max-batch", "1", "--max-queue", "1", "--timeout", "1")
    proc, url = _start(tiny_llama, tmp_path_factory.mktemp("cramped") / "log.txt", *args)
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def local(tiny_llama):
    """The same model in this process, for transformers-generate parity."""
    return load_for_inference(tiny_llama)


def _health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=5).json()


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    health = _health(server)  # no key needed for the health check
    assert health["status"] == "ok" and health["model"] == "tiny"


def test_chat_greedy_equals_transformers_generate(client, local):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
    out = client.chat.completions.create(model="tiny", messages=messages, max_tokens=10, temperature=0)
    ref = generate(*local, [messages], max_new_tokens=10)[0]
    choice = out.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip() == ref.text
    assert choice.finish_reason == "length" and out.usage.completion_tokens == 10
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-")


def test_completions_greedy_equal_transformers_generate(client, local):
    out = client.completions.create(model="tiny", prompt=RAW_PROMPTS[:3], max_tokens=12, temperature=0)
    refs = generate(*local, RAW_PROMPTS[:3], raw=True, max_new_tokens=12)
    assert [c.text.strip() for c in out.choices] == [r.text for r in refs]
    assert [c.index for c in out.choices] == [0, 1, 2]
    assert out.usage.completion_tokens == 36


def test_streams_add_up_to_the_whole_answer(client):
    kw = {"model": "tiny", "max_tokens": 12, "temperature": 0}
    messages = [{"role": "user", "content": "Tell me a story"}]
    whole = client.chat.completions.create(messages=messages, **kw).choices[0].message.content
    chunks = list(client.chat.completions.create(messages=messages, stream=True, **kw))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole
    assert chunks[-1].choices[0].finish_reason == "length"
    text = client.completions.create(prompt="Once upon a time", **kw).choices[0].text
    pieces = list(client.completions.create(prompt="Once upon a time", stream=True, **kw))
    assert (
        "".join(p.choices[0].text for p in pieces) == text and pieces[-1].choices[0].finish_reason == "length"
    )


def test_raw_sse_ends_with_done_and_reports_usage(server):
    body = {"prompt": "Hello", "max_tokens": 4, "temperature": 0, "stream": True}
    body["stream_options"] = {"include_usage": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.stream("POST", f"{server}/v1/completions", json=body, headers=headers, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line[len("data: ") :] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert json.loads(data[-2])["usage"]["completion_tokens"] == 4


def test_n_choices_and_seeded_sampling(client):
    kw = {"model": "tiny", "prompt": "Hello", "max_tokens": 8, "temperature": 1.0, "top_p": 0.9, "n": 3}
    a = client.completions.create(seed=7, **kw)
    b = client.completions.create(seed=7, **kw)
    c = client.completions.create(seed=8, **kw)
    texts = [x.text for x in a.choices]
    assert len(texts) == 3 and [x.index for x in a.choices] == [0, 1, 2]
    assert texts == [x.text for x in b.choices]  # the same seed samples the same answers
    assert len(set(texts)) > 1 and texts != [x.text for x in c.choices]  # n choices differ, seeds too
    greedy = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Hi"}], n=2, max_tokens=6, temperature=0
    )
    assert greedy.choices[0].message.content == greedy.choices[1].message.content


@pytest.mark.parametrize("stream", [False, True])
def test_stop_strings_cut_the_answer(client, stream):
    kw = {"model": "tiny", "prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}
    full = client.completions.create(**kw).choices[0].text  # ' is is is ... isMahMah'
    for stop in ("Mah", "s i"):  # "s i" spans two tokens (" is" + " is")
        assert stop in full
        if stream:
            chunks = list(client.completions.create(stop=[stop, "never"], stream=True, **kw))
            text, reason = "".join(c.choices[0].text for c in chunks), chunks[-1].choices[0].finish_reason
        else:
            choice = client.completions.create(stop=stop, **kw).choices[0]
            text, reason = choice.text, choice.finish_reason
        assert text == full[: full.index(stop)] and reason == "stop"


def test_sixteen_simultaneous_clients_get_their_one_by_one_answers(client, server):
    """Half greedy completions, half seeded sampled chats: batched answers equal the one-by-one ones."""

    def ask(i: int) -> str:
        if i % 2 == 0:
            prompt = f"{RAW_PROMPTS[i % len(RAW_PROMPTS)]} {i}"
            out = client.completions.create(model="tiny", prompt=prompt, max_tokens=12, temperature=0)
            return out.choices[0].text
        messages = [{"role": "user", "content": f"Question number {i}"}]
        out = client.chat.completions.create(
            model="tiny", messages=messages, max_tokens=12, temperature=1.0, seed=i
        )
        return out.choices[0].message.content

    one_by_one = [ask(i) for i in range(16)]
    before = _health(server)["batches"]
    start = threading.Barrier(16)

    def together(i: int) -> str:
        start.wait()
        return ask(i)

    with ThreadPoolExecutor(16) as pool:
        batched = list(pool.map(together, range(16)))
    assert batched == one_by_one
    assert _health(server)["batches"] - before < 16  # some requests did share a batch


def _error(exc_info) -> dict:
    return exc_info.value.response.json()["error"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "Hi", "max_tokens": -1}, "max_tokens"),
        ({"prompt": "Hi", "max_tokens": "5"}, "max_tokens"),
        ({"prompt": "Hi", "temperature": "hot"}, "temperature"),
        ({"prompt": "Hi", "n": 0}, "n"),
        ({"prompt": "Hi", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prompt": "Hi", "logprobs": 2}, "logprobs"),
        ({"prompt": "Hi", "frequency_penalty": 0.5}, "frequency_penalty"),
        ({"max_tokens": 4}, "prompt"),
        ({"prompt": [10**9]}, "prompt"),
    ],
)
def test_bad_completion_bodies_get_400(server, body, param):
    r = httpx.post(f"{server}/v1/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert param is None or err["param"] == param


def test_bad_requests_get_openai_errors(client, server):
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    r = httpx.post(f"{server}/v1/chat/completions", content=b'{"messages": [', headers=headers)
    assert r.status_code == 400 and "parse the JSON" in r.json()["error"]["message"]
    r = httpx.post(f"{server}/v1/chat/completions", json={"messages": "hi"}, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    bad_part = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}
    r = httpx.post(f"{server}/v1/chat/completions", json=bad_part, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages.0.content"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "Hi"}])
    assert _error(e)["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:  # 1024-token context
        client.completions.create(model="tiny", prompt="word " * 2000, max_tokens=4)
    assert _error(e)["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="Hi", max_tokens=5000)
    assert _error(e)["code"] == "context_length_exceeded"
    r = httpx.get(f"{server}/v1/nothing", headers=headers)
    assert r.status_code == 404 and "error" in r.json()
    assert _health(server)["status"] == "ok"  # none of it hurt the server


def test_api_key_is_required(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx.post(f"{server}/v1/completions", json={"prompt": "Hi"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(f"{server}/v1/completions", content=b"{not json", headers={})
    assert r.status_code == 401  # the key is checked before the body is read
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server}/v1", api_key="nope", max_retries=0).models.list()


def test_a_client_that_disconnects_stops_its_generation(server):
    before = _health(server)
    body = {"messages": [{"role": "user", "content": "Talk forever"}], "max_tokens": 900, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    got = []
    with httpx.stream("POST", f"{server}/v1/chat/completions", json=body, headers=headers) as r:
        for line in r.iter_lines():
            got += [line] if line.startswith("data: ") else []
            if len(got) == 3:
                break  # leaving the block closes the connection mid-stream
    assert len(got) == 3
    deadline = time.monotonic() + 10
    while (h := _health(server))["active_rows"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h["active_rows"] == 0 and h["cancelled"] == before["cancelled"] + 1
    assert h["tokens"] - before["tokens"] < 900  # it stopped early


def test_full_queue_gets_503_and_slow_requests_504(cramped):
    c = openai.OpenAI(base_url=f"{cramped}/v1", api_key="none", max_retries=0, timeout=30)
    long = {"model": "tiny", "prompt": "Hello", "max_tokens": 1000, "temperature": 0}

    def wait_for(key: str) -> None:
        deadline = time.monotonic() + 5
        while not _health(cramped)[key] and time.monotonic() < deadline:
            time.sleep(0.01)

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(lambda: list(c.completions.create(stream=True, **long)))
        wait_for("active_rows")
        queued = pool.submit(c.completions.create, **long)
        wait_for("queued")
        with pytest.raises(openai.InternalServerError) as e:  # the one queue slot is taken
            c.completions.create(**long)
        assert e.value.status_code == 503 and _error(e)["code"] == "overloaded"
        with pytest.raises(openai.APIStatusError) as e:  # waited in the queue past --timeout 1
            queued.result()
        assert e.value.status_code == 504
        with pytest.raises(openai.APIError):  # the stream ends with an error event
            running.result()
    deadline = time.monotonic() + 5
    while _health(cramped)["active_rows"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _health(cramped)["active_rows"] == 0


def test_cli_errors_are_one_line(tiny_llama, capsys):
    assert main(["serve", "/no/such/model"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["serve", tiny_llama, "--port", str(s.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert "cannot listen" in err and "Traceback" not in err
    assert main(["serve", tiny_llama, "--max-batch", "0"]) == 2


@pytest.mark.slow
def test_builtin_model_answers_as_generate_does(builtin_model, tmp_path):
    proc, url = _start("smollm2-135m-instruct", tmp_path / "log.txt")
    try:
        c = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=120)
        questions = ["What is the capital of France?", "Name three colors."]
        with ThreadPoolExecutor(2) as pool:  # batched together
            answers = list(pool.map(lambda q: c.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": q}], max_tokens=24, temperature=0
            ).choices[0].message.content, questions))  # fmt: skip
    finally:
        _stop(proc)
    refs = generate(*builtin_model, questions, max_new_tokens=24)
    assert [a.strip() for a in answers] == [r.text for r in refs]
    assert "Paris" in answers[0]
