"""Per-user webhook signing secrets: created or rotated on request, shown once, used by the worker to sign.

Every customer verifies deliveries with a key only they (and the service) know, so nobody can forge a
delivery to another customer's receiver. The secret is stored as is because HMAC signing needs the key
itself; nothing here hands it out except :func:`create_or_rotate` (for the one answer that shows it) and
:func:`signing_keys` (for the worker).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.errors import WebhookSecretMissing
from core.serialisers import API_PREFIX
from core.webhooks import ROTATION_GRACE_S, fingerprint, generate_secret
from db.tables import WebhookSigningSecret

SECRET_PATH = f"{API_PREFIX}/webhooks/secret"


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What may be shown about a user's secret at any time: never the secret itself."""

    fingerprint: str
    created_at: dt.datetime
    rotated_at: dt.datetime | None
    previous_fingerprint: str | None
    """Set while the previous secret still signs, beside the current one, after a rotation."""
    previous_expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class NewSecret:
    secret: str
    info: SecretInfo


@dataclass(frozen=True, slots=True)
class SigningKeys:
    current: str
    previous: str | None
    """The secret before the last rotation, while its grace period lasts."""


def _info(row: dict[str, Any]) -> SecretInfo:
    live_previous = row["previous_secret"] if row["previous_live"] else None
    return SecretInfo(
        fingerprint=fingerprint(row["secret"]),
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
        previous_fingerprint=fingerprint(live_previous) if live_previous else None,
        previous_expires_at=row["previous_expires_at"] if live_previous else None,
    )


_COLUMNS = (
    "secret, previous_secret, previous_expires_at, created_at, rotated_at, "
    "COALESCE(previous_expires_at > now(), false) AS previous_live"
)


async def create_or_rotate(user_id: str) -> NewSecret:
    """A fresh secret for ``user_id``; an existing one becomes the previous secret for the grace period."""
    secret = generate_secret()
    rows = await WebhookSigningSecret.raw(
        "INSERT INTO webhook_signing_secret AS s (id, user_id, secret, created_at) "
        "VALUES (gen_random_uuid(), {}, {}, now()) "
        "ON CONFLICT (user_id) DO UPDATE SET previous_secret = s.secret, "
        "previous_expires_at = now() + make_interval(secs => {}), secret = EXCLUDED.secret, rotated_at = now() "
        "RETURNING " + _COLUMNS,
        user_id,
        secret,
        ROTATION_GRACE_S,
    )
    return NewSecret(secret=secret, info=_info(dict(rows[0])))


async def _row(user_id: str) -> dict[str, Any] | None:
    rows = await WebhookSigningSecret.raw(
        f"SELECT {_COLUMNS} FROM webhook_signing_secret WHERE user_id = {{}}", user_id
    )
    return dict(rows[0]) if rows else None


async def info(user_id: str) -> SecretInfo | None:
    row = await _row(user_id)
    return _info(row) if row else None


async def signing_keys(user_id: str) -> SigningKeys | None:
    row = await _row(user_id)
    if row is None:
        return None
    return SigningKeys(current=row["secret"], previous=row["previous_secret"] if row["previous_live"] else None)


async def require_for(user_id: str, webhook_url: str | None) -> None:
    """Refuse a ``webhook_url`` until the user holds a secret to verify its deliveries with.

    Refusing is the honest choice: a secret created behind the user's back would sign deliveries they
    cannot verify, and rotating to learn it would be a hidden extra step.
    """
    if not webhook_url:
        return
    rows = await WebhookSigningSecret.raw("SELECT 1 FROM webhook_signing_secret WHERE user_id = {}", user_id)
    if not rows:
        raise WebhookSecretMissing(
            f"Create a webhook signing secret first (POST {SECRET_PATH}; it is shown once): "
            "deliveries are signed with it, and your receiver needs it to verify them.",
            createWith=f"POST {SECRET_PATH}",
        )
