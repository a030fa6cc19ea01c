"""The request id (``X-Request-ID``, :func:`api.problems.ensure_request_id`) on every log line logged
while the request is served, uvicorn's access line included (it is logged when the response starts,
inside the request); the user's hashed id is added once authentication knows it.

The same middleware times the request: from its arrival here to the start of its response, given to
the client as ``Server-Timing: app;dur=<ms>`` (W3C Server Timing: a load test can tell the API's own
time from the time its requests spent on the network and in its own event loop) and to the access line.
"""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ensure_request_id
from core.logs import duration_ms_var, log_context

SERVER_TIMING = b"server-timing"


def request_log_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                duration_ms_var.set(ms)
                headers = [*message.get("headers", ()), (SERVER_TIMING, f"app;dur={ms:.1f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        token = duration_ms_var.set(None)
        try:
            with log_context(request_id=ensure_request_id(scope)):
                await app(scope, receive, timed_send)
        finally:
            duration_ms_var.reset(token)

    return middleware
