"""``METRICS_PORT``: the API's ``/metrics`` on an internal listener of its own, not on the public port.

A reverse proxy forwards the API's port to the internet; a port of its own, bound to ``METRICS_HOST``
(loopback by default), never is. This is the production alternative to ``METRICS_TOKEN``
(:meth:`core.settings.Settings.api_production_problems`). The token, when set, is still checked here.

The listener runs inside the API process, started and stopped by the app's lifespan, so it works under
``python -m api.server`` and under any ASGI server. It reads the queues through the app's Redis client
and reports the same registry. With several API processes on one host only the first binds the port;
the others log it and rely on that one (with ``PROMETHEUS_MULTIPROC_DIR`` it reports all of them, as for
the workers' ``WORKER_METRICS_PORT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from litestar import Litestar
from litestar.di import Provide
from redis.asyncio import Redis

from api.metrics import metrics_route
from api.problems import EXCEPTION_HANDLERS, add_request_id_header
from api.response_headers import add_nosniff
from core.settings import Settings

log = logging.getLogger("bgremover.api")


class _ListenerServer(uvicorn.Server):
    """uvicorn without its signal handlers: the API's own server owns SIGTERM and stops this one
    through the lifespan."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class MetricsListener:
    server: _ListenerServer
    task: asyncio.Task[None]
    port: int

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def listener_app(settings: Settings, redis: Redis) -> Litestar:
    app = Litestar(
        route_handlers=[metrics_route],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "redis": Provide(lambda: redis, sync_to_thread=False),
            "metrics_internal": Provide(lambda: True, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[add_request_id_header, add_nosniff],
        openapi_config=None,
        debug=False,
    )
    return app


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family)


async def start(settings: Settings, redis: Redis) -> MetricsListener | None:
    """None when ``METRICS_PORT`` is 0, or when the port cannot be bound (logged: another API process
    of this host serves it, or it is taken)."""
    if settings.metrics_port <= 0:
        return None
    try:
        sock = _bind(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        log.warning("metrics not served on %s:%d: %s", settings.metrics_host, settings.metrics_port, exc)
        return None
    config = uvicorn.Config(
        listener_app(settings, redis),
        lifespan="off",
        log_config=None,  # the API's logging is already configured; uvicorn would replace it
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    server = _ListenerServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics-listener")
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return MetricsListener(server=server, task=task, port=settings.metrics_port)
