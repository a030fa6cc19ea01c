"""The request id (``X-Request-ID``, :func:`api.problems.ensure_request_id`) on every log line logged
while the request is served, uvicorn's access line included (it is logged when the response starts,
inside the request); the user's hashed id is added once authentication knows it.

The same middleware times the request: from its arrival here to the start of its response, given to
the client as ``Server-Timing: app;dur=<ms>`` (W3C Server Timing: a load test can tell the API's own
time from the time its requests spent on the network and in its own event loop) and to the access line.

And a request the stopping server cancels (one still running ``API_SHUTDOWN_GRACE_S`` after SIGTERM,
typically a slow upload) is answered ``503`` with ``Retry-After``, which a client retries, instead of the
``500`` uvicorn sends for a cancelled app.
"""

from __future__ import annotations

import asyncio
import json
import time

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from api.problems import PROBLEM_MEDIA_TYPE, ensure_request_id, problem_body
from api.wait_slots import server_stopping
from core.logs import duration_ms_var, log_context

SERVER_TIMING = b"server-timing"
SERVICE_UNAVAILABLE = "service_unavailable"
REMOVEBG_PREFIX = "/v1.0/"


async def _stopping_answer(scope: Scope, send: Send) -> None:
    request_id = ensure_request_id(scope)
    detail = "The server is restarting and did not finish this request; send it again."
    if str(scope.get("path", "")).startswith(REMOVEBG_PREFIX):  # remove.bg's clients read its own shape
        media_type = "application/json"
        content: dict[str, object] = {
            "errors": [{"title": "Service unavailable", "code": SERVICE_UNAVAILABLE, "detail": detail}]
        }
    else:
        media_type = PROBLEM_MEDIA_TYPE
        content = problem_body(
            status=503,
            code=SERVICE_UNAVAILABLE,
            title="Service Unavailable",
            detail=detail,
            instance=str(scope.get("path", "")),
            request_id=request_id,
        )
    body = json.dumps(content).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5"),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 503, "headers": headers}
    whole: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(whole)


def request_log_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        response_started = False

        async def timed_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                ms = (time.perf_counter() - started) * 1000
                duration_ms_var.set(ms)
                headers = [*message.get("headers", ()), (SERVER_TIMING, f"app;dur={ms:.1f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        token = duration_ms_var.set(None)
        try:
            with log_context(request_id=ensure_request_id(scope)):
                try:
                    await app(scope, receive, timed_send)
                except asyncio.CancelledError:
                    if response_started or not server_stopping():
                        raise
                    await _stopping_answer(scope, timed_send)
        finally:
            duration_ms_var.reset(token)

    return middleware
