"""Bearer-token authentication: JWT (HS256 by default), ``exp``, ``sub``, issuer and audience required.

Tokens are verified with pyjwt through Litestar's ``JWTAuth``; the algorithm list is pinned to the
configured one, so ``alg: none`` and algorithm-confusion tokens are refused with 401.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from core.settings import Settings

PUBLIC_PATHS = [
    "^/api/background-remover/health",
    "^/schema",
    "^/favicon.ico$",
]


@dataclass(frozen=True)
class Principal:
    """The caller, built from the token's claims alone (no database round trip per request)."""

    user_id: str
    scopes: frozenset[str]


async def principal_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    subject = (token.sub or "").strip()
    if not subject or len(subject) > 255 or not subject.isprintable():
        return None
    raw_scopes = token.extras.get("scope", "")
    scopes = frozenset(raw_scopes.split()) if isinstance(raw_scopes, str) else frozenset()
    return Principal(user_id=subject, scopes=scopes)


class BearerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware takes whatever follows the first space; we insist on ``Bearer``."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        scheme, _, encoded = (connection.headers.get(self.auth_header) or "").strip().partition(" ")
        if not encoded:
            raise NotAuthorizedException("No bearer token in the Authorization header")
        if scheme.lower() != "bearer":
            raise NotAuthorizedException(f"Authorization scheme must be Bearer, not {scheme[:20]!r}")
        return await self.authenticate_token(encoded_token=encoded.strip(), connection=connection)


def build_jwt_auth(settings: Settings) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        retrieve_user_handler=principal_from_token,
        token_secret=settings.jwt_secret,
        algorithm=settings.jwt_algorithm,
        accepted_issuers=[settings.jwt_issuer],
        accepted_audiences=[settings.jwt_audience],
        require_claims=["exp", "sub", "iss", "aud"],
        exclude=PUBLIC_PATHS,
        authentication_middleware_class=BearerAuthenticationMiddleware,
        description="A JWT signed with the service's key: `sub` is the user id; `exp`, `iss` and `aud` are required.",
    )


def make_token(settings: Settings, user_id: str, *, ttl: timedelta = timedelta(hours=12), scope: str = "") -> str:
    """A signed token for ``user_id`` (development and tests; production tokens come from your IdP)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
