"""The remove.bg-compatible API (``/v1.0``): existing remove.bg clients work by changing only their
base URL and key. ``X-Api-Key`` authenticates (our API keys); errors are in remove.bg's shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Router
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException

from api.auth import principal_from_api_key
from api.key_auth import API_KEY_HEADER
from api.removebg.controller import TAG, RemoveBgController
from api.removebg.errors import EXCEPTION_HANDLERS
from api.submissions import provide_submissions
from core.errors import UnknownTier
from core.serialisers import API_PREFIX
from core.settings import Settings
from core.tiers import TIERS

PREFIX = "/v1.0"

Check = Callable[[Request[Any, Any, Any]], Awaitable[None]]


def removebg_router(settings: Settings, *, checks: Check) -> Router:
    """``checks`` runs after authentication: the same schema gate and per-user rate limit as our routes."""
    if settings.removebg_tier not in TIERS:
        raise UnknownTier(settings.removebg_tier, tuple(TIERS), source="REMOVEBG_TIER")

    async def authenticate(request: Request[Any, Any, Any]) -> None:
        presented = request.headers.get(API_KEY_HEADER)
        if not presented:
            raise NotAuthorizedException(f"Missing X-Api-Key header: create a key with POST {API_PREFIX}/api-keys")
        request.scope["user"] = await principal_from_api_key(presented)
        await checks(request)

    # base64 in JSON is a third larger than the image; the image itself is bounded by MAX_IMAGE_BYTES
    body_limit = settings.max_image_bytes * 4 // 3 + 1024 * 1024
    return Router(
        path=PREFIX,
        route_handlers=[RemoveBgController],
        before_request=authenticate,
        exception_handlers=EXCEPTION_HANDLERS,
        dependencies={"submissions": Provide(provide_submissions, sync_to_thread=False)},
        security=[{"ApiKey": []}],
        tags=[TAG],
        request_max_body_size=body_limit,
    )
