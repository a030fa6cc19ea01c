"""Bearer tokens for tests, good and deliberately bad."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt

from core.settings import Settings


def claims(settings: Settings, user_id: str = "alice", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": user_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(settings: Settings, user_id: str = "alice", *, key: str | None = None, **overrides: Any) -> str:
    return jwt.encode(claims(settings, user_id, **overrides), key or settings.jwt_secret, algorithm="HS256")


def unsigned_token(settings: Settings, user_id: str = "alice") -> str:
    """``alg: none``: a token with no signature at all."""

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims(settings, user_id))}."


def auth(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


LUMIKU_LIFETIME_S = 7 * 24 * 3600
"""Lumiku's default ``JWT_EXPIRES_IN`` (``7d``)."""


def lumiku_token(
    settings: Settings, user_id: str, *, email: str | None = None, key: str | None = None, **overrides: Any
) -> str:
    """A token as Lumiku's backend signs it (``jsonwebtoken``, HS256): ``{userId, email, iat, exp}``, with
    no ``sub``, ``iss`` or ``aud``."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "userId": user_id,
        "email": email or f"{user_id}@example.com",
        "iat": now,
        "exp": now + LUMIKU_LIFETIME_S,
    }
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key or settings.jwt_secret, algorithm="HS256")
