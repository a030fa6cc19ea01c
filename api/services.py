"""What the API's handlers share, built once per app by :func:`api.app.create_app` and handed to them by
Litestar's dependency injection: a handler names what it needs (``settings: Settings``,
``url_signer: UrlSigner``, ``wait_slots: WaitSlots``, … or the whole ``services: Services``) instead
of reaching into ``app.state``.

Hooks and the JWT user lookup close over what they need when the app is built; only the exception
handlers, which Litestar injects nothing into, find the bundle on the app (:meth:`Services.install`,
read by ``api.problems``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from redis.asyncio import Redis

from api.final_signals import FinalSignals
from api.limits import RateLimiter
from api.queue import Enqueuer
from api.schema_gate import SchemaGate
from api.wait_slots import WaitSlots
from core.image_urls import ImageUrlFetcher
from core.settings import Settings
from core.signed_urls import UrlSigner
from core.storage import Storage
from core.webhooks import DnsLookups

STATE_KEY = "services"
"""Where :meth:`Services.install` puts the bundle on the app, for the exception handlers."""


@dataclass
class Services:
    settings: Settings
    storage: Storage
    url_signer: UrlSigner
    enqueuer: Enqueuer
    final_signals: FinalSignals
    wait_slots: WaitSlots
    rate_limiter: RateLimiter
    dns_lookups: DnsLookups
    image_urls: ImageUrlFetcher
    schema_gate: SchemaGate
    redis_client: Redis | None = None
    """Opened by the app's lifespan (a connection pool belongs to the running event loop)."""

    @property
    def redis(self) -> Redis:
        if self.redis_client is None:
            raise RuntimeError("Redis is opened by the app's lifespan, which has not run")
        return self.redis_client

    def dependencies(self) -> dict[str, Provide]:
        """Each service under the parameter name handlers use, plus the bundle itself."""

        def provider(value: Any) -> Provide:
            return Provide(lambda: value, use_cache=True, sync_to_thread=False)

        return {
            "services": provider(self),
            "settings": provider(self.settings),
            "storage": provider(self.storage),
            "url_signer": provider(self.url_signer),
            "wait_slots": provider(self.wait_slots),
            "schema_gate": provider(self.schema_gate),
            # read per request: the lifespan opens it after the app is built
            "redis": Provide(lambda: self.redis, sync_to_thread=False),
        }

    def install(self, app: Litestar) -> None:
        app.state[STATE_KEY] = self
