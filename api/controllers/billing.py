"""Prices, subscriptions and credits."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body

from api.auth import Principal
from api.schemas import (
    GrantIn,
    GrantOut,
    Limits,
    PlanOut,
    Pricing,
    SubscribeIn,
    SubscriptionEnvelope,
    TierPrice,
    VolumeDiscount,
    subscription_out,
)
from api.web import openapi_examples as ex
from core.errors import AlreadySubscribed, Conflict, InvalidOptions
from core.pricing import VOLUME_DISCOUNTS, plan, plans
from core.settings import Settings
from core.tiers import TIERS, model_installed
from db import credits, subscriptions


class PricingController(Controller):
    tags = ["billing"]

    @get(
        "/pricing",
        operation_id="getPricing",
        summary="Tiers, availability, discounts, plans and limits",
        responses=ex.PRICING_RESPONSES,
    )
    async def pricing(self, request: Request[Principal, Any, Any]) -> Pricing:
        """Credits per image for each tier (and whether it is available right now), the batch volume
        discounts, the subscription plans with their daily quotas, and the upload limits."""
        settings: Settings = request.app.state.settings
        return Pricing(
            tiers=[
                TierPrice(
                    tier=name,
                    credits=spec.credits,
                    available=model_installed(name, settings.model_dir),
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
        summary="Subscribe to a plan",
        status_code=201,
        responses=ex.SUBSCRIBE_RESPONSES,
    )
    async def subscribe(
        self,
        request: Request[Principal, Any, Any],
        data: Annotated[SubscribeIn, Body(media_type=RequestEncodingType.JSON, examples=ex.SUBSCRIBE_EXAMPLES)],
    ) -> SubscriptionEnvelope:
        """`{"plan": "starter"}` or `{"plan": "pro"}`. Billing of the plan's price happens outside this
        service; from now on single jobs within the daily quotas cost no credits. 409
        `already_subscribed` while a subscription is active."""
        settings: Settings = request.app.state.settings
        chosen = plan(settings, data.plan)
        row = await subscriptions.subscribe(request.user.user_id, chosen.name, chosen.daily_quotas, chosen.period_days)
        if row is None:
            raise AlreadySubscribed("You already have an active subscription; cancel it first to change plans.")
        return SubscriptionEnvelope(subscription=subscription_out(row, active=True))

    @delete(
        "/",
        operation_id="cancelSubscription",
        summary="Cancel the active subscription",
        status_code=200,
        responses=ex.CANCEL_SUBSCRIPTION_RESPONSES,
    )
    async def cancel(self, request: Request[Principal, Any, Any]) -> SubscriptionEnvelope:
        """Takes effect at once: a cancelled subscription covers nothing."""
        row = await subscriptions.cancel(request.user.user_id)
        if row is None:
            raise Conflict("There is no active subscription to cancel.")
        return SubscriptionEnvelope(subscription=subscription_out(row, active=False))


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
        data: Annotated[GrantIn, Body(media_type=RequestEncodingType.JSON, examples=ex.GRANT_EXAMPLES)],
    ) -> GrantOut:
        """Needs a token whose `sub` is in `ADMIN_USERS` or whose `scope` contains `admin`. `grantId`
        makes the grant idempotent."""
        settings: Settings = request.app.state.settings
        principal = request.user
        admins = {u.strip() for u in settings.admin_users.split(",") if u.strip()}
        if principal.user_id not in admins and "admin" not in principal.scopes:
            raise PermissionDeniedException("Granting credits needs an admin token.")
        if not 0 < data.credits <= 10_000_000:
            raise InvalidOptions("credits must be between 1 and 10,000,000", parameter="credits")
        if not data.user_id.strip() or len(data.user_id) > 255:
            raise InvalidOptions("userId must be 1-255 characters", parameter="userId")
        key = f"grant:{data.grant_id or uuid.uuid4()}"
        granted = await credits.grant(data.user_id, data.credits, reason=data.reason[:255], entry_key=key)
        return GrantOut(
            user_id=data.user_id, credits=data.credits, granted=granted, balance=await credits.balance(data.user_id)
        )
