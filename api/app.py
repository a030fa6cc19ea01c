"""Application assembly: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from redis.asyncio import Redis

from api import metrics_listener
from api.auth import build_jwt_auth
from api.controllers.account import AccountController
from api.controllers.api_keys import ApiKeyController
from api.controllers.batches import BatchController
from api.controllers.billing import (
    CreditsController,
    PricingController,
    SubscriptionController,
    SubscriptionGrantController,
)
from api.controllers.health import HealthController
from api.controllers.jobs import JobController
from api.controllers.signed import SignedFileController, before_signed_request
from api.controllers.webhooks import WebhookController
from api.cors import cors_config
from api.final_signals import FinalSignals
from api.limits import QUEUE_DEPTH_SEEN, RateLimiter
from api.lumiku.routes import LumikuAccountController, LumikuBatchController, LumikuRemoveController
from api.metrics import metrics_route
from api.problems import EXCEPTION_HANDLERS, add_request_id_header
from api.queue import Enqueuer
from api.removebg import removebg_router
from api.request_context import request_log_context
from api.response_headers import add_nosniff
from api.schema_gate import SchemaGate
from api.services import Services
from api.submissions import provide_submissions
from api.upload_forms import read_upload_form
from api.wait_slots import WaitSlots, stopping_with_the_server
from api.web.docs import render_plugins
from api.web.routes import web_route_handlers
from core.errors import DatabaseUnavailable
from core.image_urls import ImageUrlFetcher
from core.logs import install_context, set_user
from core.pricing import plans
from core.serialisers import API_PREFIX
from core.settings import Settings, get_settings
from core.signed_urls import UrlSigner
from core.storage import open_storage
from core.webhooks import DnsLookups
from db.pool import close_pool, start_pool

log = logging.getLogger("bgremover.api")


def before_api_request(services: Services) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """The hook of every authenticated route: the schema must be current, the caller within their rate
    limit, and an upload's form is read (bounded) before the handler runs."""

    async def check(request: Request[Any, Any, Any]) -> None:
        if request.method == "OPTIONS":
            # the JWT middleware skips OPTIONS (no `request.user`): let Litestar answer it with `Allow`
            return
        await services.schema_gate.require_ready()
        set_user(request.user.user_id)
        limiter = services.rate_limiter
        decision = await limiter.check(services.redis, request.user.user_id)
        if decision is not None:
            request.scope["state"]["rate_limit_headers"] = decision.headers()
            if decision.queue_depth is not None:
                request.scope["state"][QUEUE_DEPTH_SEEN] = (decision.queue_depth, time.monotonic())
        limiter.raise_if_denied(decision)
        await read_upload_form(request, services.settings)

    return check


def _lifespan(services: Services) -> Any:
    settings = services.settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        gate = services.schema_gate
        try:
            status = await gate.refresh()
            if status.ready:
                log.info("start-up check: %s", status.describe())
        except DatabaseUnavailable as exc:
            log.error("start-up check: %s; API routes answer 503 until it is reachable", exc.detail)
        pool_started = False
        if settings.db_pool_max > 0:
            try:
                await start_pool(min_size=settings.db_pool_opened(settings.db_pool_max), max_size=settings.db_pool_max)
                pool_started = True
            except (OSError, TimeoutError) as exc:
                # Without a pool Piccolo opens a connection per query, so the API still recovers by itself.
                log.error("could not start the database pool (%s); using per-query connections", exc)
        redis = services.redis_client = Redis.from_url(
            settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        listener = await metrics_listener.start(settings, redis)
        # Everything allocated so far lives as long as the process: keep it out of the GC's scans,
        # which otherwise show up as latency spikes under load.
        gc.freeze()
        try:
            with stopping_with_the_server(services.wait_slots):
                yield
        finally:
            if listener is not None:
                await listener.stop()
            await services.final_signals.close()
            await services.image_urls.aclose()
            services.dns_lookups.close()
            await services.enqueuer.close()
            await redis.aclose()
            if pool_started:
                await close_pool()

    return lifespan


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    settings.check_production(log, api=True)
    plans(settings)  # a misconfigured SUBSCRIPTION_PLANS stops start-up, not the first /pricing
    settings.webhook_ports  # noqa: B018 - a malformed WEBHOOK_ALLOWED_PORTS stops start-up too
    install_context()
    dns_lookups = DnsLookups(threads=settings.webhook_dns_threads, negative_ttl_s=settings.webhook_dns_negative_ttl_s)
    services = Services(
        settings=settings,
        storage=open_storage(settings),
        url_signer=UrlSigner.from_settings(settings),
        enqueuer=Enqueuer(settings),
        final_signals=FinalSignals(settings),
        wait_slots=WaitSlots(settings),
        rate_limiter=RateLimiter(settings),
        dns_lookups=dns_lookups,
        image_urls=ImageUrlFetcher.from_settings(settings, lookups=dns_lookups),
        schema_gate=SchemaGate(settings.database_url, timeout_s=min(settings.db_timeout_s, 5.0)),
    )
    checks = before_api_request(services)
    jwt_auth = build_jwt_auth(settings)
    # Upload limits per route: a single image, or a whole batch; both a little above the per-image
    # limit so that an oversized image is reported as `file_too_large`, not as a cut-off body.
    single_limit = settings.max_image_bytes + 1024 * 1024
    jobs = Router(path="/", route_handlers=[JobController, LumikuRemoveController], request_max_body_size=single_limit)
    batches = Router(
        path="/",
        route_handlers=[BatchController, LumikuBatchController],
        request_max_body_size=settings.max_batch_bytes,
    )
    api = Router(
        path=API_PREFIX,
        route_handlers=[
            AccountController,
            ApiKeyController,
            PricingController,
            SubscriptionController,
            SubscriptionGrantController,
            CreditsController,
            WebhookController,
            LumikuAccountController,
            jobs,
            batches,
        ],
        before_request=checks,
        dependencies={"submissions": Provide(provide_submissions, sync_to_thread=False)},
        security=[{"BearerToken": []}, {"ApiKey": []}],
        request_max_body_size=64 * 1024,
    )
    health = Router(path=API_PREFIX, route_handlers=[HealthController])
    signed = Router(
        path=API_PREFIX,
        route_handlers=[SignedFileController],
        before_request=before_signed_request(services.schema_gate),
    )
    app = Litestar(
        dependencies={**services.dependencies(), "metrics_internal": Provide(lambda: False, sync_to_thread=False)},
        route_handlers=[
            health,
            signed,
            api,
            removebg_router(settings, checks=checks),
            metrics_route,
            *web_route_handlers(),
        ],
        on_app_init=[jwt_auth.on_app_init],
        cors_config=cors_config(settings),
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[add_request_id_header, add_nosniff],
        lifespan=[_lifespan(services)],
        openapi_config=OpenAPIConfig(
            title="bgremover",
            version="0.1.0",
            description="Background removal as a service: submit images, pick a quality tier, fetch transparent PNGs.",
            path="/schema",
            render_plugins=render_plugins(),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                    "ApiKey": SecurityScheme(type="apiKey", name="X-Api-Key", security_scheme_in="header"),
                }
            ),
        ),
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            formatters={"standard": {"()": "core.logs.JsonFormatter"}} if settings.log_format == "json" else {},
            log_exceptions="debug",
            disable_stack_trace={404, 401, 403, 405, 413, 415, 422, 402, 409, 429},
        ),
        response_cache_config=ResponseCacheConfig(),
        debug=False,
    )
    # Outside Litestar's own handler, not in ``middleware=``: route middleware never sees a 404, and the
    # authentication middleware (which answers 401) runs outside it; this way every answer is timed and
    # every line logged for a request carries its id.
    app.asgi_handler = request_log_context(app.asgi_handler)
    # what Litestar does not inject into (exception handlers, the JWT user lookup) finds it there
    services.install(app)
    return app
