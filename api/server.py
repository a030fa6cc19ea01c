"""``python -m api.server``: the API under uvicorn, with the connection limits bare uvicorn lacks.

uvicorn waits as long as a client likes for a request head, so a client that trickles one header
byte every few seconds (slowloris) holds a connection for ever, and a few hundred of them hold the
server. Here, from :mod:`core.settings`:

* ``HEADER_TIMEOUT_S``: a request head (request line and headers) must be complete within this time
  after the connection opened or, on a keep-alive connection, after the first byte of the next
  request; otherwise the connection is closed. uvicorn has no such timer: :class:`GuardedH11Protocol`
  adds it to uvicorn's h11 protocol.
* ``KEEP_ALIVE_TIMEOUT_S``: an idle keep-alive connection is closed (uvicorn's own timer).
* ``MAX_CONNECTIONS``: a connection opened while the process already holds that many gets
  ``503 too_many_connections`` problem+json (with ``Connection: close``) for its request.
* ``MAX_HEADER_BYTES``: an incomplete request head that grows past this is refused by h11 with 400,
  which bounds what a slow client can make the server buffer.

On SIGTERM, :class:`StoppingServer` first ends every request that waits for a job (long polls,
remove.bg, Lumiku's ``POST /remove``) with a retryable answer, since uvicorn waits for open requests
before it exits; requests still running ``API_SHUTDOWN_GRACE_S`` later are cancelled.

Not covered: a client that sends its body slowly, or millions of connections from many addresses.
That is the reverse proxy's job (docs/security.md has the recipe).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import math
import sys
import uuid
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import PROBLEM_MEDIA_TYPE, problem_body
from api.wait_slots import stop_waiting
from core.allocator import return_freed_uploads_to_the_system
from core.errors import TooManyConnections
from core.logs import configure as configure_logging
from core.logs import uvicorn_log_config
from core.metrics import reset_multiprocess_dir
from core.settings import Settings, get_settings

log = logging.getLogger("bgremover.api")


async def too_many_connections(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app a connection over ``MAX_CONNECTIONS`` gets instead of ours: cheap, then closed."""
    rid = uuid.uuid4().hex
    body = json.dumps(
        problem_body(
            status=TooManyConnections.status,
            code=TooManyConnections.code,
            title=TooManyConnections.title,
            detail="The server has too many open connections. Retry in a moment.",
            instance=scope.get("path", "/"),
            request_id=rid,
        )
    ).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"x-request-id", rid.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": TooManyConnections.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a request-head deadline and a connection cap (set per server by
    :func:`protocol_for`)."""

    header_timeout_s: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 500

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.logger.warning("more than %d open connections: refusing one with 503", self.max_connections)
            self.app = too_many_connections
        # a connection that never sends anything is a head that never completes
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._head_deadline is None and self.conn.their_state is h11.IDLE:
            # the first bytes of the next request on a keep-alive connection: its head gets the same deadline
            self._arm_head_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info(
                "closing the connection of %s: no complete request head in %ss", self.client, self.header_timeout_s
            )
            self.transport.close()


def protocol_for(settings: Settings) -> type[GuardedH11Protocol]:
    return type(
        "ConfiguredH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout_s": settings.header_timeout_s, "max_connections": settings.max_connections},
    )


class StoppingServer(uvicorn.Server):
    """uvicorn's server, which tells the waits it is stopping before it waits for them to end."""

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        stop_waiting()
        await super().shutdown(sockets)


def uvicorn_config(settings: Settings, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        http=protocol_for(settings),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        timeout_graceful_shutdown=math.ceil(settings.api_shutdown_grace_s),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # nothing to gain from telling scanners which server and version answer
        server_header=False,
        log_level=log_level,
        log_config=uvicorn_log_config(settings.log_format) or text_log_config(),
    )


def text_log_config() -> dict[str, Any]:
    """uvicorn's own text format, its access line ending with the request's duration (``12.3 ms``)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    access = config["formatters"]["access"]
    access["fmt"] = access["fmt"] + " %(duration)s"
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.server", description=__doc__.split("\n\n")[0])
    settings = get_settings()
    parser.add_argument("--host", default=settings.api_host, help="default API_HOST (127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.api_port, help="default API_PORT (8000)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    # the app's own logging is set up by Litestar; this covers what is logged before (start-up checks)
    configure_logging(settings.log_format)
    reset_multiprocess_dir()  # before uvicorn starts any process that writes there
    return_freed_uploads_to_the_system()
    StoppingServer(uvicorn_config(settings, host=args.host, port=args.port, log_level=args.log_level)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
