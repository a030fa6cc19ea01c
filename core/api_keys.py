"""API keys: how they look, how they are made and how they are stored.

A key is ``bgr_`` followed by 43 URL-safe characters (32 random bytes). That is far beyond guessing,
so a plain sha256 of the key is a safe thing to store and look up (a slow password hash protects
low-entropy secrets; this one has 256 bits). The prefix makes a leaked key recognisable to secret
scanners and to people; the first characters are kept in the clear so users can tell keys apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "bgr_"
KEY_PATTERN = re.compile(r"bgr_[A-Za-z0-9_-]{43}")
SHOWN_PREFIX_LENGTH = 12
"""``bgr_`` plus 8 characters of the key: enough to tell keys apart, far too little to guess the rest."""
MAX_NAME_LENGTH = 100


class ApiKeyScope(StrEnum):
    """What a key may do. A key is a long-lived secret that ends up in scripts, CI variables and
    remove.bg plugins, so by default it gets only the work it was made for.

    Neither scope reaches the admin routes (credit and subscription grants) or creates keys: those
    need a short-lived bearer token, so a leaked key can neither print money nor mint a successor
    that outlives its revocation.
    """

    BASIC = "basic"
    """Submit, read and cancel jobs and batches, read the account (balance, stats, subscription,
    pricing), list keys and revoke this key itself. The default."""
    MANAGE = "manage"
    """Also rotate the webhook signing secret, revoke the user's other keys, and subscribe, renew or
    cancel the subscription (which spend the balance or end a paid period); given only when a
    bearer-token caller asks for it explicitly."""


DEFAULT_SCOPE = ApiKeyScope.BASIC


@dataclass(frozen=True)
class NewKey:
    key: str
    """The key itself: returned to the user once, never stored."""
    prefix: str
    hash: str


def generate() -> NewKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(key=key, prefix=key[:SHOWN_PREFIX_LENGTH], hash=hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def looks_like_key(value: str) -> bool:
    """Shape check before any database look-up: anything else cannot be a key we issued."""
    return KEY_PATTERN.fullmatch(value) is not None
