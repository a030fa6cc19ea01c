"""Which browser pages on other origins may call the API: ``CORS_ALLOWED_ORIGINS``, none by default.

The original Lumiku frontend may be served from another origin than the API. Tokens travel in the
``Authorization`` header (or an API key in ``X-Api-Key``), never in cookies, so credentials are not
allowed: a page from a listed origin can call the API only with a token or key it already holds.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from core.settings import Settings

ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Api-Key", "X-Request-ID"]
# Headers a page may read from an answer: where to poll, when, and what to quote to an operator.
EXPOSED_HEADERS = [
    "Content-Disposition",
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
]


def cors_config(settings: Settings) -> CORSConfig | None:
    origins = settings.cors_origins
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
