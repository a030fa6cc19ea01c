"""The request id (``X-Request-ID``, :func:`api.problems.ensure_request_id`) on every log line logged
while the request is served, uvicorn's access line included (it is logged when the response starts,
inside the request); the user's hashed id is added once authentication knows it."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from api.problems import ensure_request_id
from core.logs import log_context


def request_log_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        with log_context(request_id=ensure_request_id(scope)):
            await app(scope, receive, send)

    return middleware
