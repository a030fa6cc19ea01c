"""Bodies of the ``/webhooks`` routes: the signing secret (shown once) and the delivery log."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from core.serialisers import Camel
from db.webhook_deliveries import Delivery
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


class WebhookDeliveryOut(Camel):
    kind: str
    object_id: uuid.UUID
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookDeliveryList(Camel):
    deliveries: list[WebhookDeliveryOut]
    limit: int


def secret_info_out(info: SecretInfo) -> WebhookSecretInfo:
    return WebhookSecretInfo(
        fingerprint=info.fingerprint,
        created_at=info.created_at,
        rotated_at=info.rotated_at,
        previous_fingerprint=info.previous_fingerprint,
        previous_expires_at=info.previous_expires_at,
    )


def secret_created_out(new: NewSecret) -> WebhookSecretCreated:
    return WebhookSecretCreated(**msgspec.structs.asdict(secret_info_out(new.info)), secret=new.secret)


def delivery_out(delivery: Delivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        kind=delivery.kind,
        object_id=delivery.object_id,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
    )
