"""Bearer-token authentication: JWT (HS256 by default), ``exp``, ``iat``, ``sub``, issuer and audience required.

Tokens are verified with pyjwt through Litestar's ``JWTAuth``; the algorithm list is pinned to the
configured one, so ``alg: none`` and algorithm-confusion tokens are refused with 401. A token must
also be short-lived (``exp - iat`` at most ``JWT_MAX_LIFETIME_S``) and name its user in canonical
form (:func:`core.identity.is_canonical_user_id`).

For tokens of another issuer (Lumiku's are ``{userId, email, iat, exp}``), ``JWT_USER_CLAIM`` names the
claim that holds the user and an empty ``JWT_ISSUER`` / ``JWT_AUDIENCE`` drops that check; the
signature, the pinned algorithm, ``exp``, ``iat`` and the lifetime cap stay.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from litestar.security.jwt.token import JWTDecodeOptions

from api.key_auth import API_KEY_HEADER, key_owner
from core.api_keys import ApiKeyScope
from core.identity import is_canonical_user_id
from core.settings import Settings

PUBLIC_PATHS = [
    "^/api/background-remover/health",
    # the remove.bg routes authenticate X-Api-Key themselves, to answer remove.bg's 403 (api/removebg)
    "^/v1\\.0/",
    "^/api/background-remover/signed/",  # the link's own signature is checked instead (api/controllers/signed.py)
    "^/schema",
    "^/favicon.ico$",
    "^/metrics$",  # METRICS_TOKEN, when set, is checked by the route itself (api/metrics.py)
]


@dataclass(frozen=True)
class Principal:
    """The caller, built from the token's claims alone (no database round trip per request), or from
    an API key (``api_key_id`` and its ``api_key_scope``, one indexed read)."""

    user_id: str
    scopes: frozenset[str]
    api_key_id: uuid.UUID | None = None
    api_key_scope: ApiKeyScope | None = None

    @property
    def by_token(self) -> bool:
        return self.api_key_id is None


# Claims with a meaning of their own: naming the user by one of them would be a configuration mistake.
_NOT_USER_CLAIMS = frozenset({"exp", "iat", "nbf", "iss", "aud", "jti", "scope"})


def _token_class(user_claim: str) -> type[Token]:
    """Litestar's ``Token`` reads the user from ``sub``; for an issuer that names the user in another claim,
    that claim becomes the subject (and a ``sub`` beside it is ignored: one claim decides, never two)."""
    if user_claim == "sub":
        return Token
    if user_claim in _NOT_USER_CLAIMS:
        raise ValueError(f"JWT_USER_CLAIM cannot be {user_claim!r}: that claim does not name a user")

    class UserClaimToken(Token):
        @classmethod
        def decode_payload(
            cls,
            encoded_token: str,
            secret: str,
            algorithms: list[str],
            issuer: str | Sequence[str] | None = None,
            audience: str | Sequence[str] | None = None,
            options: JWTDecodeOptions | None = None,
        ) -> Any:
            payload = super().decode_payload(encoded_token, secret, algorithms, issuer, audience, options)
            # a missing claim is a KeyError, which Token.decode turns into 401 like any other bad token
            payload["sub"] = payload.pop(user_claim)
            return payload

    return UserClaimToken


def principal_lookup(
    settings: Settings,
) -> Callable[[Token, ASGIConnection[Any, Any, Any, Any]], Awaitable[Principal | None]]:
    """The JWT middleware's user lookup (Litestar injects nothing into it, so it closes over the settings)."""

    async def principal_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
        return await _principal(token, settings)

    return principal_from_token


async def _principal(token: Token, settings: Settings) -> Principal | None:
    subject = token.sub
    if not is_canonical_user_id(subject):
        # never strip or normalise: " alice" must not become a second key to alice's account
        raise NotAuthorizedException(f"{settings.jwt_user_claim} is not a user id in canonical form")
    lifetime_s = (token.exp - token.iat).total_seconds()
    if lifetime_s > settings.jwt_max_lifetime_s:
        # a leaked long-lived token would be a key for life; the issuer must mint short ones
        raise NotAuthorizedException(
            f"token lifetime (exp - iat) exceeds the maximum of {settings.jwt_max_lifetime_s} seconds"
        )
    raw_scopes = token.extras.get("scope", "")
    scopes = frozenset(raw_scopes.split()) if isinstance(raw_scopes, str) else frozenset()
    return Principal(user_id=subject, scopes=scopes)


async def principal_from_api_key(presented: str) -> Principal:
    owner = await key_owner(presented)
    return Principal(user_id=owner.user_id, scopes=frozenset(), api_key_id=owner.key_id, api_key_scope=owner.scope)


class VerifiedTokens:
    """Tokens already verified, kept until they expire, so that a client's every request does not verify
    its token again (pyjwt's signature and claim checks were a tenth of the API's work per upload).

    Keyed by everything the verification depended on, the whole encoded token (its signature included)
    and the key and rules it was checked with, so only the very same bytes under the same rules find an
    entry. ``exp`` is checked again on every use; claims never change for the same bytes. Bounded: the
    oldest entry goes first.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._tokens: OrderedDict[tuple[Any, ...], Token] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Token | None:
        token = self._tokens.get(key)
        if token is None:
            return None
        if token.exp.timestamp() <= time.time():
            del self._tokens[key]
            return None
        self._tokens.move_to_end(key)
        return token

    def put(self, key: tuple[Any, ...], token: Token) -> None:
        self._tokens[key] = token
        if len(self._tokens) > self.size:
            self._tokens.popitem(last=False)


VERIFIED_TOKENS = VerifiedTokens()


class BearerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware takes whatever follows the first space; we insist on ``Bearer``.
    An ``X-Api-Key`` header is the other way in (:mod:`api.key_auth`)."""

    @cached_property
    def _rules(self) -> tuple[Any, ...]:
        """Everything a token's verification depends on besides the token (fixed for this middleware)."""
        return (
            self.token_cls,
            self.token_secret,
            self.algorithm,
            repr(self.token_audience),
            repr(self.token_issuer),
            repr(self.require_claims),
            self.verify_expiry,
            self.verify_not_before,
            self.strict_audience,
        )

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Litestar's, with :class:`VerifiedTokens` in front of the token's verification."""
        key = (encoded_token, *self._rules)
        token = VERIFIED_TOKENS.get(key)
        if token is None:
            token = self.token_cls.decode(
                encoded_token=encoded_token,
                secret=self.token_secret,
                algorithm=self.algorithm,
                audience=self.token_audience,
                issuer=self.token_issuer,
                require_claims=self.require_claims,
                verify_exp=self.verify_expiry,
                verify_nbf=self.verify_not_before,
                strict_audience=self.strict_audience,
            )
            VERIFIED_TOKENS.put(key, token)
        user = await self.retrieve_user_handler(token, connection)
        if not user or (self.revoked_token_handler and await self.revoked_token_handler(token, connection)):
            raise NotAuthorizedException()
        return AuthenticationResult(user=user, auth=token)

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        api_key = connection.headers.get(API_KEY_HEADER)
        if api_key is not None:
            if self.auth_header in connection.headers:
                # two credentials could name two users: refuse rather than pick one
                raise NotAuthorizedException("Send either an Authorization bearer token or an X-Api-Key, not both")
            return AuthenticationResult(user=await principal_from_api_key(api_key), auth=None)
        scheme, _, encoded = (connection.headers.get(self.auth_header) or "").strip().partition(" ")
        if not encoded:
            raise NotAuthorizedException("No bearer token in the Authorization header")
        if scheme.lower() != "bearer":
            raise NotAuthorizedException(f"Authorization scheme must be Bearer, not {scheme[:20]!r}")
        return await self.authenticate_token(encoded_token=encoded.strip(), connection=connection)


def build_jwt_auth(settings: Settings) -> JWTAuth[Principal, Token]:
    claim = settings.jwt_user_claim
    required = ["exp", "iat", claim]
    required += ["iss"] if settings.jwt_issuer else []
    required += ["aud"] if settings.jwt_audience else []
    return JWTAuth[Principal, Token](
        retrieve_user_handler=principal_lookup(settings),
        token_secret=settings.jwt_secret,
        algorithm=settings.jwt_algorithm,
        token_cls=_token_class(claim),
        # None switches pyjwt's check off; the operator chose that by leaving the setting empty
        accepted_issuers=[settings.jwt_issuer] if settings.jwt_issuer else None,
        accepted_audiences=[settings.jwt_audience] if settings.jwt_audience else None,
        require_claims=required,
        exclude=PUBLIC_PATHS,
        authentication_middleware_class=BearerAuthenticationMiddleware,
        description=(
            f"A JWT signed with the service's key: `{claim}` is the user id; "
            f"{', '.join(f'`{c}`' for c in required if c != claim)} are required, and `exp - iat` may not "
            "exceed the service's maximum token lifetime."
        ),
    )


def make_token(settings: Settings, user_id: str, *, ttl: timedelta = timedelta(hours=12), scope: str = "") -> str:
    """A signed token for ``user_id`` (development and tests; production tokens come from your IdP).

    Raises ``ValueError`` for a token the API would refuse: a user id not in canonical form, or a
    lifetime over ``JWT_MAX_LIFETIME_S``."""
    if not is_canonical_user_id(user_id):
        raise ValueError(f"user id {user_id!r} is not canonical (no surrounding spaces, printable, NFC, 1-255 chars)")
    if ttl.total_seconds() > settings.jwt_max_lifetime_s:
        raise ValueError(f"a token may live at most JWT_MAX_LIFETIME_S = {settings.jwt_max_lifetime_s} seconds")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        settings.jwt_user_claim: user_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
