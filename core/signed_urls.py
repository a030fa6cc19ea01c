"""Links to a result or a ZIP that work without a bearer token, for a while.

A browser's ``<img src>`` and ``<a href download>`` send no ``Authorization`` header, so the links the
original Lumiku clients put there must carry their own proof: ``?expires=<unix seconds>&signature=<mac>``
where the MAC is HMAC-SHA256 over the method, the path (which names the job or batch) and the expiry,
under ``SIGNED_URL_SECRET``. Changing any of the three breaks the MAC, so a link opens exactly one
object, for one method, until it expires; rotating the secret revokes every outstanding link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
import uuid
from dataclasses import dataclass

from core.errors import InvalidSignature, LinkExpired
from core.settings import Settings

SIGNED_PREFIX = "/api/background-remover/signed"
EXPIRY_STEP_S = 60
"""Expiries are rounded up to a whole minute: a client polling a finished job gets the same link (and
the same ``ETag``) for a minute instead of a new one on every request."""


def job_result_path(job_id: uuid.UUID) -> str:
    return f"{SIGNED_PREFIX}/jobs/{job_id}/result"


def batch_zip_path(batch_id: uuid.UUID) -> str:
    return f"{SIGNED_PREFIX}/batches/{batch_id}/zip"


def _mac(secret: bytes, method: str, path: str, expires: int) -> str:
    message = f"{method.upper()}\n{path}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class UrlSigner:
    secret: bytes
    ttl_s: int
    base_url: str = ""
    """Put in front of the path, so that a page on another origin can follow the link."""

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlSigner:
        return cls(settings.signed_url_secret.encode(), settings.signed_url_ttl_s, settings.public_base_url)

    def expiry(self, now: float | None = None) -> int:
        at = (time.time() if now is None else now) + self.ttl_s
        return math.ceil(at / EXPIRY_STEP_S) * EXPIRY_STEP_S

    def sign(self, path: str, *, method: str = "GET", now: float | None = None) -> str:
        expires = self.expiry(now)
        return f"{self.base_url}{path}?expires={expires}&signature={_mac(self.secret, method, path, expires)}"

    def verify(
        self, method: str, path: str, expires: str | None, signature: str | None, *, now: float | None = None
    ) -> None:
        """Raises :class:`InvalidSignature` (403) unless this server signed exactly this method, path and
        expiry, then :class:`LinkExpired` (410) once the expiry has passed. The signature is checked
        first, so an expired link and a forged one are told apart only for links we issued."""
        if not expires or not signature or not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            raise InvalidSignature("This link is not signed: it needs `expires` and `signature` as issued by the API.")
        expected = _mac(self.secret, method, path, int(expires))
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise InvalidSignature("The link's signature does not match: it was altered or was not issued here.")
        if int(expires) < (time.time() if now is None else now):
            raise LinkExpired("This link has expired; ask the API for the job or batch again to get a fresh one.")
