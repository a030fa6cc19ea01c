"""Bodies of the ``/webhooks`` routes: the signing secret, shown once."""

from __future__ import annotations

import datetime as dt

from core.serialisers import Camel
from db.webhook_secrets import NewSecret, SecretInfo


class WebhookSecretInfo(Camel):
    """What can be seen of the signing secret at any time: a fingerprint, never the secret."""

    fingerprint: str
    created_at: dt.datetime
    rotated_at: dt.datetime | None
    previous_fingerprint: str | None
    previous_expires_at: dt.datetime | None


class WebhookSecretCreated(WebhookSecretInfo):
    """The answer to creating or rotating: the only time the secret itself is sent."""

    secret: str


def secret_info_out(info: SecretInfo) -> WebhookSecretInfo:
    return WebhookSecretInfo(
        fingerprint=info.fingerprint,
        created_at=info.created_at,
        rotated_at=info.rotated_at,
        previous_fingerprint=info.previous_fingerprint,
        previous_expires_at=info.previous_expires_at,
    )


def secret_created_out(new: NewSecret) -> WebhookSecretCreated:
    info = new.info
    return WebhookSecretCreated(
        fingerprint=info.fingerprint,
        created_at=info.created_at,
        rotated_at=info.rotated_at,
        previous_fingerprint=info.previous_fingerprint,
        previous_expires_at=info.previous_expires_at,
        secret=new.secret,
    )
