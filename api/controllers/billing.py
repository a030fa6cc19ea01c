"""Prices, subscriptions and credits."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, HeaderParameter, QueryParameter

from api import purchases
from api.auth import Principal
from api.permissions import require_scope, require_token, token_actor
from api.schemas import (
    GrantIn,
    GrantList,
    GrantOut,
    Limits,
    PlanOut,
    Pricing,
    SubscribeIn,
    SubscriptionEnvelope,
    SubscriptionGrantIn,
    SubscriptionGrantOut,
    SubscriptionMessage,
    TierPrice,
    VolumeDiscount,
    grant_out,
    subscription_out,
)
from api.web import openapi_examples as ex
from core.actors import Actor
from core.api_keys import ApiKeyScope
from core.errors import Conflict, InvalidOptions
from core.identity import is_canonical_user_id
from core.pricing import VOLUME_DISCOUNTS, plan, plans
from core.settings import Settings
from core.tiers import TIERS, unavailable_reason
from db import credits, subscription_periods, subscriptions
from db.idempotency import check_key
from db.piccolo_conf import DB

MAX_PAYMENT_ID_LENGTH = 200
"""Leaves room for the ledger key's ``payment:`` prefix within its 255 characters."""

IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)]


def require_admin(request: Request[Principal, Any, Any], settings: Settings, action: str) -> Actor:
    """The one admin check of the money routes (credit and subscription grants); the actor to record.

    Only the operator's own list decides: a claim is whatever the token's signer wrote, and granting
    credits is printing money. And only a short-lived token: an admin's API key never expires, so a
    leaked one would print money until someone noticed (``403 token_required``).
    """
    if request.user.user_id not in settings.admin_user_ids:
        raise PermissionDeniedException(f"{action} needs an admin token.")
    require_token(request.user, action)
    return token_actor(request.user)


def check_user_id(user_id: str) -> str:
    if not is_canonical_user_id(user_id):
        # a token for " alice" is refused, so credits granted to it could never be spent
        raise InvalidOptions(
            "userId must be 1-255 printable characters in Unicode NFC, without surrounding spaces",
            parameter="userId",
        )
    return user_id


class PricingController(Controller):
    tags = ["billing"]

    @get(
        "/pricing",
        operation_id="getPricing",
        summary="Tiers, availability, discounts, plans and limits",
        responses=ex.PRICING_RESPONSES,
    )
    async def pricing(self, request: Request[Principal, Any, Any], settings: NamedDependency[Settings]) -> Pricing:
        """Credits per image for each tier (and whether it is available right now), the batch volume
        discounts, the subscription plans with their daily quotas, and the upload limits."""
        return Pricing(
            tiers=[
                TierPrice(
                    tier=name,
                    credits=spec.credits,
                    available=(reason := unavailable_reason(name, settings)) is None,
                    unavailable_reason=reason,
                    description=spec.description,
                    model=spec.model_file,
                    model_licence=spec.licence,
                )
                for name, spec in TIERS.items()
            ],
            volume_discounts=[VolumeDiscount(min_images=a, max_images=b, percent=p) for a, b, p in VOLUME_DISCOUNTS],
            plans=[
                PlanOut(
                    plan=p.name,
                    price=p.price,
                    currency=p.currency,
                    credits=p.credits,
                    period_days=p.period_days,
                    daily_quotas=p.daily_quotas,
                )
                for p in plans(settings).values()
            ],
            limits=Limits(
                max_image_bytes=settings.max_image_bytes,
                max_megapixels=settings.max_megapixels,
                min_side=settings.min_side,
                batch_min_images=settings.batch_min_images,
                batch_max_images=settings.batch_max_images,
                input_formats=["jpeg", "png", "webp"],
                output_formats=["png", "webp", "jpg"],
            ),
        )


async def subscribe_answer(
    request: Request[Principal, Any, Any], settings: Settings, data: SubscribeIn, idempotency_key: str | None
) -> Response[Any]:
    """Subscribing, for ``POST /subscription`` and the original frontend's ``POST /subscription/subscribe``."""
    require_scope(request.user, ApiKeyScope.MANAGE, "Subscribing (it spends the balance)")
    if data.payment_id is not None:
        # the original backend took the client's word for a payment: a free subscription for anyone
        raise PermissionDeniedException(
            "A payment is applied by an operator (POST /subscriptions/grants), not by naming its paymentId; "
            "send only the plan to pay for it in credits."
        )
    key = check_key(idempotency_key) if idempotency_key is not None else None
    chosen = plan(settings, data.plan)
    user_id = request.user.user_id

    async def buy() -> subscriptions.SubscriptionRow:
        return await subscription_periods.subscribe(user_id, chosen)

    answer = await purchases.once(
        user_id=user_id,
        endpoint="POST /subscription",
        idempotency_key=key,
        request=["subscribe", chosen.name],
        status_code=201,
        message="Subscription created successfully",
        buy=buy,
    )
    return answer.response()


async def cancel_answer(principal: Principal) -> SubscriptionMessage:
    """Cancelling, for ``DELETE /subscription`` and the original frontend's ``POST /subscription/cancel``."""
    # the rest of the period is not refunded: a leaked key must not be able to throw it away
    require_scope(principal, ApiKeyScope.MANAGE, "Cancelling the subscription")
    row = await subscriptions.cancel(principal.user_id)
    if row is None:
        raise Conflict("There is no active subscription to cancel.")
    return SubscriptionMessage(
        message="Subscription cancelled successfully", subscription=subscription_out(row, active=False)
    )


class SubscriptionController(Controller):
    path = "/subscription"
    tags = ["billing"]

    @get(
        "/",
        operation_id="getSubscription",
        summary="The caller's subscription, or null",
        responses=ex.GET_SUBSCRIPTION_RESPONSES,
    )
    async def get_subscription(self, request: Request[Principal, Any, Any]) -> SubscriptionEnvelope:
        """`{"subscription": null}` for a user who never subscribed; otherwise the plan, status, period,
        daily quotas and today's usage per tier."""
        row = await subscriptions.get_subscription(request.user.user_id)
        if row is None:
            return SubscriptionEnvelope(subscription=None)
        return SubscriptionEnvelope(subscription=subscription_out(row, active=subscriptions.is_active(row)))

    @post(
        "/",
        operation_id="subscribe",
        summary="Subscribe to a plan, paid in credits",
        status_code=201,
        responses=ex.SUBSCRIBE_RESPONSES,
    )
    async def subscribe(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[SubscribeIn, Body(media_type=RequestEncodingType.JSON, examples=ex.SUBSCRIBE_EXAMPLES)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """`{"plan": "starter"}` or `{"plan": "pro"}`. Charges the plan's price in credits (see `GET /pricing`)
        for one period starting now; from then on single jobs within the daily quotas cost no credits.
        402 `insufficient_credits` when the balance is short (nothing is stored), 409 `already_subscribed`
        while a subscription is active. `Idempotency-Key` replays the first answer and charges once. A
        `paymentId` (which the original backend trusted) is 403 `forbidden`: payments are applied by an
        operator through `POST /subscriptions/grants`."""
        return await subscribe_answer(request, settings, data, idempotency_key)

    @post(
        "/renew",
        operation_id="renewSubscription",
        summary="Pay one more period of the plan, in credits",
        status_code=200,
        responses=ex.RENEW_SUBSCRIPTION_RESPONSES,
    )
    async def renew(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """Charges the plan's current price in credits and extends the subscription by one period from its
        expiry, or from now when it has expired or was cancelled. 402 `insufficient_credits` when the
        balance is short, 409 `conflict` without a subscription. Each call renews once more: send an
        `Idempotency-Key` so that a retried or double-clicked renewal is charged once."""
        require_scope(request.user, ApiKeyScope.MANAGE, "Renewing the subscription (it spends the balance)")
        key = check_key(idempotency_key) if idempotency_key is not None else None
        user_id = request.user.user_id
        offered = plans(settings)

        async def buy() -> subscriptions.SubscriptionRow:
            return await subscription_periods.renew(user_id, offered)

        answer = await purchases.once(
            user_id=user_id,
            endpoint="POST /subscription/renew",
            idempotency_key=key,
            request=["renew"],
            status_code=200,
            message="Subscription renewed successfully",
            buy=buy,
        )
        return answer.response()

    @delete(
        "/",
        operation_id="cancelSubscription",
        summary="Cancel the active subscription",
        status_code=200,
        responses=ex.CANCEL_SUBSCRIPTION_RESPONSES,
    )
    async def cancel(self, request: Request[Principal, Any, Any]) -> SubscriptionMessage:
        """Takes effect at once: a cancelled subscription covers nothing, and the rest of the paid period
        is not refunded. A JSON body (the original clients send `{"reason": …}`) is accepted and not kept."""
        return await cancel_answer(request.user)


class SubscriptionGrantController(Controller):
    path = "/subscriptions/grants"
    tags = ["billing"]

    @post(
        "/",
        operation_id="grantSubscription",
        summary="Record an external payment for a subscription period (admin only)",
        status_code=201,
        responses=ex.SUBSCRIPTION_GRANT_RESPONSES,
    )
    async def grant(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[
            SubscriptionGrantIn, Body(media_type=RequestEncodingType.JSON, examples=ex.SUBSCRIPTION_GRANT_EXAMPLES)
        ],
    ) -> SubscriptionGrantOut:
        """For a plan paid outside the service (bank transfer, payment gateway): one period of `plan` for
        `userId`, starting now, or extending an active subscription of the same plan (409
        `already_subscribed` for another plan). The user's balance is unchanged. `paymentId` is applied
        once, ever: the same grant again answers `granted: false`; the same `paymentId` for another
        user is 409 `conflict`. Needs the same admin token as `POST /credits/grants` (an API key is 403
        `token_required`). The payment's ledger row records who granted it."""
        actor = require_admin(request, settings, "Granting a subscription")
        user_id = check_user_id(data.user_id)
        payment_id = data.payment_id.strip()
        if not payment_id or len(payment_id) > MAX_PAYMENT_ID_LENGTH or not payment_id.isprintable():
            raise InvalidOptions(
                f"paymentId must be 1-{MAX_PAYMENT_ID_LENGTH} printable characters", parameter="paymentId"
            )
        chosen = plan(settings, data.plan)
        async with DB.transaction():
            row, granted = await subscription_periods.grant_paid(user_id, chosen, payment_id, actor=actor)
        return SubscriptionGrantOut(
            user_id=user_id,
            plan=chosen.name,
            payment_id=payment_id,
            granted=granted,
            granted_by=actor.user_id,
            subscription=subscription_out(row, active=subscriptions.is_active(row)),
        )


class CreditsController(Controller):
    path = "/credits"
    tags = ["billing"]

    @post(
        "/grants",
        operation_id="grantCredits",
        summary="Grant credits to a user (admin only)",
        status_code=201,
        responses=ex.GRANT_RESPONSES,
    )
    async def grant(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[GrantIn, Body(media_type=RequestEncodingType.JSON, examples=ex.GRANT_EXAMPLES)],
    ) -> GrantOut:
        """Needs a bearer token whose `sub` is one of the operator's `ADMIN_USERS`; a `scope` claim is not
        enough, and an admin's API key is 403 `token_required`. `grantId` makes the grant idempotent.
        The ledger records who granted (`GET /credits/grants` lists it)."""
        actor = require_admin(request, settings, "Granting credits")
        if not 0 < data.credits <= 10_000_000:
            raise InvalidOptions("credits must be between 1 and 10,000,000", parameter="credits")
        check_user_id(data.user_id)
        key = f"grant:{data.grant_id or uuid.uuid4()}"
        granted = await credits.grant(data.user_id, data.credits, reason=data.reason[:255], entry_key=key, actor=actor)
        return GrantOut(
            user_id=data.user_id,
            credits=data.credits,
            granted=granted,
            balance=await credits.balance(data.user_id),
            granted_by=actor.user_id,
        )

    @get(
        "/grants",
        operation_id="listCreditGrants",
        summary="Recent credit grants and who made them (admin only)",
        responses=ex.LIST_GRANTS_RESPONSES,
    )
    async def list_grants(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        user_id: Annotated[
            str | None, QueryParameter(name="userId", max_length=255, description="only this user's grants")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="how many (1-500)")] = 50,
    ) -> GrantList:
        """Newest first, external payments (`POST /subscriptions/grants`) included: whom, how many
        credits, why, and the actor: `grantedBy` (the admin's user id, or the operator named on the
        command line) and `grantedVia` (`token`: an admin's bearer token; `cli`: `python -m db.admin
        grant`). Both are null for grants recorded before actors were. Needs the same admin token as
        the grants themselves."""
        require_admin(request, settings, "Listing grants")
        if user_id is not None:
            check_user_id(user_id)
        rows = await credits.recent_grants(user_id, limit=limit)
        return GrantList(grants=[grant_out(r) for r in rows], limit=limit)
