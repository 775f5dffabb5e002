"""`lmforge serve`: an OpenAI-compatible HTTP API (FastAPI + uvicorn) over the dynamic batcher.

Routes: `GET /health`, `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions` (both with
`stream: true` as server-sent events ending in `data: [DONE]`). Prompts are built by the chat template
function training and `lmforge generate` use. Errors are OpenAI's JSON shape with a 4xx (5xx for the
server's own faults); a client that goes away mid-request has its rows stopped at the next token.
Before a body is parsed, guard.py checks its Host (without a key), key and size. No /docs or
/openapi.json: the API is OpenAI's, documented in docs/deploy.md, and the pages would be open to all.
A server that other machines reach needs a key, or `insecure_open` to say it is meant to be open.
FastAPI and uvicorn are imported on call: `import lmforge` needs neither.

>>> serve("runs/support-bot", port=8000)  # doctest: +SKIP
lmforge serve: 'runs/support-bot' on http://127.0.0.1:8000/v1 (OpenAI-compatible; Ctrl-C stops)
"""

# no `from __future__ import annotations`: FastAPI reads the route signatures, whose types (Request)
# are imported inside create_app
import math
import socket
from contextlib import asynccontextmanager
from typing import Any

from lmforge.errors import UserError
from lmforge.inference.batcher import Batcher
from lmforge.inference.guard import Guard, is_loopback
from lmforge.inference.responding import answer
from lmforge.inference.schemas import ChatRequest, CompletionRequest, error_body
from lmforge.inference.service import APIError, Service

MAX_BODY = 4 << 20  # 4 MiB: a full 128k-token context as JSON token ids is ~1 MB


def create_app(
    service: Service, api_key: str | None = None, max_body: int = MAX_BODY, check_host: bool = True
) -> Any:
    """The FastAPI app; the batcher's worker runs for the app's lifetime."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.batcher.start()
        yield
        service.batcher.stop()

    app = FastAPI(title="lmforge serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError) -> JSONResponse:
        return JSONResponse(e.body, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error(e.errors()), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(e.detail), "invalid_request_error"), status_code=e.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, e: Exception) -> JSONResponse:
        return JSONResponse(error_body(f"{type(e).__name__}: {e}", "server_error"), status_code=500)

    app.add_middleware(Guard, api_key=api_key, max_body=max_body, check_host=check_host)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": service.name, **service.batcher.stats()}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [model_card(service)]}

    @app.get("/v1/models/{model:path}")
    async def one_model(model: str) -> dict:
        service.check_model(model)
        return model_card(service)

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest, request: Request):
        return await answer(service, request, req, service.chat_prompts, "messages")

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, request: Request):
        return await answer(service, request, req, service.completion_prompts, "prompt")

    return app


def model_card(service: Service) -> dict:
    return {"id": service.name, "object": "model", "created": service.created, "owned_by": "lmforge"}


UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})


def validation_error(errors: list[dict]) -> dict:
    """pydantic's first complaint as OpenAI's 400: `{"loc": ("body", "n"), "msg": ...}` -> param "n"."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        return error_body("We could not parse the JSON body of your request.", "invalid_request_error")
    loc = []
    for part in first.get("loc", ())[1:] if first.get("loc", ())[:1] == ("body",) else first.get("loc", ()):
        if isinstance(part, str) and (part in UNION_TAGS or "[" in part):
            break  # pydantic names the union member it tried ("str", "list[TextPart]"): not a field
        loc.append(str(part))
    param = ".".join(loc) or None
    where = f"'{param}': " if param else ""
    return error_body(f"Invalid request: {where}{first.get('msg', '')}", "invalid_request_error", param)


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    *,
    name: str | None = None,
    max_batch: int = 16,
    max_queue: int = 64,
    window_ms: float = 50.0,
    timeout_s: float = 600.0,
    default_max_tokens: int = 512,
    max_tokens_limit: int | None = None,
    max_body: int = MAX_BODY,
    insecure_open: bool = False,
    trust_remote_code: bool = False,
    log_level: str = "info",
) -> None:
    """Serve a model over an OpenAI-compatible API until interrupted (Ctrl-C, SIGTERM).

    >>> serve("smollm2-135m-instruct", port=8000, api_key="sk-local")  # doctest: +SKIP
    """
    check_settings(host, api_key, insecure_open, timeout_s, window_ms)
    try:
        import uvicorn
    except ImportError:
        raise UserError("lmforge serve needs FastAPI and uvicorn: pip install 'lmforge[serve]'") from None
    from lmforge.inference.generation import load_for_inference

    model_obj, tokenizer = load_for_inference(model, trust_remote_code)
    batcher = Batcher(
        model_obj, tokenizer, max_batch=max_batch, max_queue=max_queue, window_s=window_ms / 1000
    )
    service = Service(batcher, tokenizer, name or model, timeout_s, default_max_tokens, max_tokens_limit)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    app = create_app(service, api_key, max_body, check_host=not insecure_open)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
    where = f"[{host}]" if ":" in host else host
    print(
        f"lmforge serve: '{service.name}' on http://{where}:{bound}/v1 (OpenAI-compatible; Ctrl-C stops)",
        flush=True,
    )
    server.run(sockets=[sock])


def check_settings(host: str, api_key: str | None, insecure_open: bool, timeout_s: float, window_ms: float):
    """Refuse, before the model loads, a server open to the network by accident, and numbers that are NaN."""
    if not is_loopback(host) and api_key is None and not insecure_open:
        raise UserError(
            f"--host {host} lets other machines in, and there is no --api-key: set LMFORGE_API_KEY "
            "(or --api-key, which `ps` shows), or pass --insecure-open to serve without a key"
        )
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise UserError(f"--timeout must be a number of seconds > 0, got {timeout_s}")
    if not (math.isfinite(window_ms) and window_ms >= 0):
        raise UserError(f"--batch-window-ms must be a number >= 0, got {window_ms}")
    if api_key is not None and not api_key.strip():
        raise UserError("--api-key is empty: a blank key would let anyone in")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line UserError (port taken, unknown host) instead of uvicorn's exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except (OSError, OverflowError) as e:  # OverflowError: a port past 65535
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None
    sock.set_inheritable(True)
    return sock
