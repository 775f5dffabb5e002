"""What a request to `lmforge serve` must pass before its body is parsed: Host, API key, body size.

One plain ASGI middleware (starlette's BaseHTTPMiddleware would sit between a stream and its client):

- without an API key, a Host header that is not loopback gets 403: a web page whose domain was re-pointed
  at 127.0.0.1 (DNS rebinding, as in Ollama's CVE-2024-28224) sends its own domain as Host;
- with a key, every /v1 request needs `Authorization: Bearer <key>` (401), checked before the body is read;
- a body over `max_body` bytes gets 413, whether announced (Content-Length) or streamed in chunks.

>>> app = Guard(app, api_key=None, max_body=4 << 20)  # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from lmforge.inference.schemas import error_body


def is_loopback(host: str) -> bool:
    """A name or address that only this machine reaches.

    >>> is_loopback("localhost"), is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port: "[::1]:8000" -> "::1", "a.b:80" -> "a.b"."""
    if header.startswith("["):
        return header[1 : header.find("]")]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: Host (without a key), key (with one), then the body-size limit."""

    def __init__(self, app: Any, api_key: str | None, max_body: int, check_host: bool = True) -> None:
        self.app, self.max_body = app, max_body
        self.expected = None if api_key is None else f"Bearer {api_key}".encode()
        self.check_host = check_host and api_key is None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        refusal = self.refusal(scope["path"], headers)
        if refusal is not None:
            return await reply(*refusal, scope, receive, send)
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await read_body(receive, self.max_body)
            if body is None:
                return await reply(*self.too_large(), scope, receive, send)
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    def refusal(self, path: str, headers: dict) -> tuple[int, dict] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if self.check_host and host and not is_loopback(host_name(host)):
            message = (
                f"Host '{host}' is not this machine: a server without --api-key answers loopback names "
                "only (localhost, 127.0.0.1, [::1])"
            )
            return 403, error_body(message, "invalid_request_error", code="invalid_host")
        if self.expected is not None and path.startswith("/v1"):
            if not secrets.compare_digest(headers.get(b"authorization", b""), self.expected):
                message = "Incorrect API key provided"
                return 401, error_body(message, "invalid_request_error", code="invalid_api_key")
        return None

    def too_large(self) -> tuple[int, dict]:
        message = f"The request body is larger than this server's limit of {self.max_body} bytes"
        return 413, error_body(message, "invalid_request_error", code="request_too_large")


DRAIN_FACTOR = 16  # an oversized body is read and dropped up to 16x the limit, then the connection closes


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None when it passes `limit` bytes.

    The rest of an oversized body is read and dropped (not kept): a server that answers 413 and closes while
    the client still sends makes the client's kernel reset the connection, and the client never sees 413."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client left: nobody will read an answer
            return None if size > limit else b"".join(parts)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
        if not message.get("more_body", False) or size > DRAIN_FACTOR * limit:
            return None if size > limit else b"".join(parts)


def replay(body: bytes, receive: Any) -> Any:
    """A receive that hands the app the body read here, then the client's own messages (a disconnect)."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def reply(status: int, body: dict, scope: dict, receive: Any, send: Any) -> None:
    from starlette.responses import JSONResponse

    await JSONResponse(body, status_code=status)(scope, receive, send)
