"""Webhook signing secret (create, rotate, inspect) and the delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter

from api.auth import Principal
from api.permissions import require_scope
from api.web import openapi_examples as ex
from api.webhook_schemas import (
    WebhookDeliveryList,
    WebhookSecretCreated,
    WebhookSecretInfo,
    delivery_out,
    secret_created_out,
    secret_info_out,
)
from core.api_keys import ApiKeyScope
from core.errors import NotFound
from db import webhook_deliveries, webhook_secrets


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post(
        "/secret",
        operation_id="createWebhookSecret",
        summary="Create or rotate the webhook signing secret (shown once)",
        status_code=201,
        responses=ex.CREATE_WEBHOOK_SECRET_RESPONSES,
    )
    async def create_secret(self, request: Request[Principal, Any, Any]) -> Response[WebhookSecretCreated]:
        """Answers the new `secret` (`whsec_…`): store it now, it is never shown again. Deliveries are
        signed with it from now on; after a rotation the previous secret also signs them for 24 hours
        (a second signature in `webhook-signature`), so a receiver can switch without losing any.
        Needs a bearer token or an API key of the `manage` scope (403 `insufficient_scope`): with a
        leaked `basic` key, rotating would let its holder sign deliveries the receiver trusts."""
        require_scope(request.user, ApiKeyScope.MANAGE, "Rotating the webhook signing secret")
        created = await webhook_secrets.create_or_rotate(request.user.user_id)
        # A secret must not linger in a cache between here and the client.
        return Response(content=secret_created_out(created), status_code=201, headers={"Cache-Control": "no-store"})

    @get(
        "/secret",
        operation_id="getWebhookSecret",
        summary="The signing secret's fingerprint and dates (never the secret)",
        responses=ex.GET_WEBHOOK_SECRET_RESPONSES,
    )
    async def get_secret(self, request: Request[Principal, Any, Any]) -> WebhookSecretInfo:
        """`fingerprint` is the first 16 hex digits of the SHA-256 of the secret: compare it with your
        receiver's copy. 404 until a secret was created."""
        info = await webhook_secrets.info(request.user.user_id)
        if info is None:
            raise NotFound(
                f"No webhook signing secret yet; POST {webhook_secrets.SECRET_PATH} creates one.",
                resource="webhook_secret",
            )
        return secret_info_out(info)

    @get(
        "/deliveries",
        operation_id="listWebhookDeliveries",
        summary="Recent webhook deliveries, their attempts and last error",
        responses=ex.LIST_WEBHOOK_DELIVERIES_RESPONSES,
    )
    async def list_deliveries(
        self,
        request: Request[Principal, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="how many (1–100)")] = 20,
        object_id: Annotated[
            uuid.UUID | None, QueryParameter(name="objectId", description="only the delivery of this job or batch")
        ] = None,
    ) -> WebhookDeliveryList:
        """Newest first. `status` is `retrying`, `delivered` or `failed`; `lastError` says why the last
        attempt failed, or why a delivery was not sent at all (too many earlier deliveries waiting)."""
        rows = await webhook_deliveries.recent(request.user.user_id, limit=limit, object_id=object_id)
        return WebhookDeliveryList(deliveries=[delivery_out(r) for r in rows], limit=limit)
