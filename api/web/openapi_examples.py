"""OpenAPI examples for every operation: request bodies, success bodies and RFC 9457 problem+json errors.

Only documentation: the controllers pass these to ``responses=`` and ``Body(examples=...)``; nothing here
changes what a handler does. The bodies are what the API really sends (camelCase, problem ``code``); a unit
test decodes each success example into its response type so they cannot drift from the schemas.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from api.lumiku.views import BatchDetail, JobDetail, JobList
from api.schemas import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    Balance,
    BatchList,
    GrantList,
    GrantOut,
    Liveness,
    Pricing,
    Readiness,
    StatsEnvelope,
    SubscriptionEnvelope,
    SubscriptionGrantOut,
    SubscriptionMessage,
)
from api.webhook_schemas import WebhookDeliveryList, WebhookSecretCreated, WebhookSecretInfo
from core.serialisers import API_PREFIX, BatchOut, JobOut
from core.statuses import UNFINISHED

PROBLEM_MEDIA_TYPE = "application/problem+json"

_JOB_ID = "3f6c2a58-9a8e-4b7e-9d51-0c1f2e8a7b44"
_BATCH_ID = "b7d9e0c4-5a61-4f2b-8e3d-2c9a1f60d7e5"
_REQUEST_ID = "8e1f0c2b9d4a4e6f9a7b3c5d1e2f4a6b"
_SIGNED = "?expires=1748771460&signature=Zb3K0c9mQk2V4n7Yt1xR8pLw6sJd5hFg0aEiUoTyBqc"
SIGNED_JOB_RESULT = f"{API_PREFIX}/signed/jobs/{_JOB_ID}/result{_SIGNED}"
SIGNED_BATCH_ZIP = f"{API_PREFIX}/signed/batches/{_BATCH_ID}/zip{_SIGNED}"


class Problem(msgspec.Struct, rename="camel", omit_defaults=True):
    """RFC 9457 problem details, as every error of this API is sent (``application/problem+json``).

    ``code`` is stable and meant for programs; ``detail`` is for people. Some problems carry more
    members (``required`` and ``balance`` for ``insufficient_credits``, ``errors`` for validation).
    """

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    request_id: str
    error: str
    """The same sentence as ``detail``, for clients written against the original Lumiku service."""


def problem(
    status: int, code: str, title: str, detail: str, path: str, *, summary: str | None = None, **extra: Any
) -> Example:
    """An :class:`Example` of a problem+json body as ``api.problems`` builds it."""
    value: dict[str, Any] = {
        "type": f"urn:bgremover:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": API_PREFIX + path,
        "code": code,
        "requestId": _REQUEST_ID,
        "error": detail,
        **extra,
    }
    return Example(id=code, summary=summary or f"{status} {code}", value=value)


def problems(*examples: Example, description: str) -> ResponseSpec:
    """One problem+json response holding one or more examples (same status code)."""
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        examples=list(examples),
        generate_examples=False,
    )


def ok(data_container: Any, *examples: Example, description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=data_container, description=description, examples=list(examples), generate_examples=False
    )


def unauthorized(path: str) -> ResponseSpec:
    return problems(
        problem(
            401,
            "unauthorized",
            "Unauthorized",
            "Missing or invalid bearer token: No bearer token in the Authorization header",
            path,
        ),
        description="No valid bearer token (problem+json)",
    )


def _token_required(action: str, path: str) -> Example:
    return problem(
        403,
        "token_required",
        "Bearer token required",
        f"{action} needs a bearer token; API keys are refused here, whatever their scope.",
        path,
    )


def insufficient_scope(action: str, path: str) -> ResponseSpec:
    return problems(
        problem(
            403,
            "insufficient_scope",
            "Insufficient scope",
            f"{action} needs a bearer token or an API key with the 'manage' scope; this key's scope is 'basic'.",
            path,
            requiredScope="manage",
        ),
        description="An API key of the default `basic` scope (problem+json)",
    )


def bad_request(method: str, path: str, key: str, message: str, source: str = "query") -> ResponseSpec:
    return problems(
        problem(
            400,
            "validation_error",
            "Bad Request",
            f"Validation failed for {method} {API_PREFIX}{path}",
            path,
            errors=[{"message": message, "key": key, "source": source}],
        ),
        description="A malformed parameter or body (problem+json, `errors` lists each one)",
    )


def webhook_secret_missing(path: str) -> ResponseSpec:
    return problems(
        problem(
            409,
            "webhook_secret_missing",
            "Conflict",
            "Create a webhook signing secret first (POST /api/background-remover/webhooks/secret; it is shown "
            "once): deliveries are signed with it, and your receiver needs it to verify them.",
            path,
            createWith="POST /api/background-remover/webhooks/secret",
        ),
        description="A `webhook_url` before any signing secret (problem+json); nothing is charged",
    )


# ----------------------------------------------------------------------------- bodies


def lumiku_job(body: dict[str, Any]) -> dict[str, Any]:
    """A job example with the original service's names added, as ``api.lumiku.views`` does."""
    download = body["links"]["download"]
    originals = {
        "qualityTier": body["tier"],
        "creditsUsed": body["creditsCharged"],
        "processedUrl": download,
        "processedImageUrl": download,
        "originalSize": body["inputBytes"],
        "processingTime": body["processingMs"],
        "itemIndex": body["position"],
        "completedAt": body["finishedAt"],
    }
    return {**body, **originals}


def lumiku_batch(body: dict[str, Any]) -> dict[str, Any]:
    """A batch example with the original service's names added, as ``api.lumiku.views`` does."""
    body = dict(body)
    images = body.pop("images", None)
    originals = {
        "qualityTier": body["tier"],
        "completedImages": body["succeededImages"],
        "totalCreditsUsed": body["creditsCharged"],
        "totalCredits": body["creditsCharged"],
        "originalPrice": body["creditsBeforeDiscount"],
        "finalPrice": body["creditsCharged"],
        "discountPercentage": body["discountPercent"],
        "progressPercentage": body["processedImages"] * 100 // body["totalImages"],
        "zipUrl": body["links"]["download"],
        "completedAt": body["finishedAt"],
    }
    return {**body, **originals, "images": images}


JOB_PENDING: dict[str, Any] = {
    "id": _JOB_ID,
    "batchId": None,
    "tier": "basic",
    "status": "pending",
    "pricingType": "credit",
    "originalFilename": "quokka.jpg",
    "inputWidth": 960,
    "inputHeight": 643,
    "inputBytes": 187412,
    "inputFormat": "jpeg",
    "outputOptions": {"format": "png", "channels": "rgba"},
    "creditsCharged": 3,
    "coveredBySubscription": False,
    "errorCode": None,
    "errorMessage": None,
    "attempts": 0,
    "processingMs": None,
    "progress": 0.0,
    "webhookUrl": None,
    "webhookStatus": None,
    "createdAt": "2025-06-01T09:30:00.123456Z",
    "updatedAt": "2025-06-01T09:30:00.123456Z",
    "startedAt": None,
    "finishedAt": None,
    "links": {"self": f"{API_PREFIX}/jobs/{_JOB_ID}", "result": None, "download": None},
    "position": None,
}
JOB_COMPLETED: dict[str, Any] = {
    **JOB_PENDING,
    "status": "completed",
    "attempts": 1,
    "processingMs": 412,
    "progress": 1.0,
    "updatedAt": "2025-06-01T09:30:01.502311Z",
    "startedAt": "2025-06-01T09:30:01.050402Z",
    "finishedAt": "2025-06-01T09:30:01.502311Z",
    "links": {
        "self": f"{API_PREFIX}/jobs/{_JOB_ID}",
        "result": f"{API_PREFIX}/jobs/{_JOB_ID}/result",
        "download": SIGNED_JOB_RESULT,
    },
}
JOB_FAILED: dict[str, Any] = {
    **JOB_COMPLETED,
    "status": "failed",
    "creditsCharged": 0,
    "errorCode": "no_subject_detected",
    "errorMessage": "The model found no foreground in the image.",
    "links": {"self": f"{API_PREFIX}/jobs/{_JOB_ID}", "result": None, "download": None},
}
JOB_CANCELLED: dict[str, Any] = {
    **JOB_PENDING,
    "status": "cancelled",
    "creditsCharged": 0,
    "errorCode": "cancelled",
    "errorMessage": "Cancelled by the client.",
    "progress": 1.0,
    "finishedAt": "2025-06-01T09:30:00.803190Z",
}


def _batch_image(position: int, status: str, *, failed: bool = False) -> dict[str, Any]:
    return {
        "jobId": f"0c8d6e4a-1b2c-4d3e-8f9a-{position:012d}",
        "position": position,
        "filename": f"photo {position}.jpg",
        "status": status,
        "errorCode": "corrupt_image" if failed else None,
        "errorMessage": "the JPEG pixel data cannot be decoded" if failed else None,
        "creditsCharged": 0 if failed else 3,
        "processingMs": None if status in UNFINISHED else 388,
    }


BATCH_PENDING: dict[str, Any] = {
    "id": _BATCH_ID,
    "batchId": "bat_7QkZ2xN4pR",
    "tier": "basic",
    "status": "pending",
    "totalImages": 3,
    "processedImages": 0,
    "failedImages": 0,
    "succeededImages": 0,
    "progress": 0.0,
    "creditsBeforeDiscount": 9,
    "creditsCharged": 9,
    "discountPercent": 0,
    "outputOptions": {"format": "png", "channels": "rgba"},
    "webhookUrl": None,
    "createdAt": "2025-06-01T09:31:00.214031Z",
    "startedAt": None,
    "finishedAt": None,
    "links": {"self": f"{API_PREFIX}/batches/{_BATCH_ID}", "result": None, "download": None},
    "name": None,
    "images": None,
}
BATCH_PROCESSING: dict[str, Any] = {
    **BATCH_PENDING,
    "status": "processing",
    "processedImages": 2,
    "failedImages": 1,
    "succeededImages": 1,
    "progress": 0.6667,
    "startedAt": "2025-06-01T09:31:00.901377Z",
    "images": [
        _batch_image(0, "completed"),
        _batch_image(1, "failed", failed=True),
        _batch_image(2, "processing"),
    ],
}
BATCH_PARTIAL: dict[str, Any] = {
    **BATCH_PROCESSING,
    "status": "partial",
    "processedImages": 3,
    "succeededImages": 2,
    "progress": 1.0,
    "finishedAt": "2025-06-01T09:31:02.412846Z",
    "links": {
        "self": f"{API_PREFIX}/batches/{_BATCH_ID}",
        "result": f"{API_PREFIX}/batches/{_BATCH_ID}/download",
        "download": SIGNED_BATCH_ZIP,
    },
    "images": [_batch_image(0, "completed"), _batch_image(1, "failed", failed=True), _batch_image(2, "completed")],
}

PRICING: dict[str, Any] = {
    "tiers": [
        {
            "tier": "basic",
            "credits": 3,
            "available": True,
            "description": (
                "One fast model (U²-Net-p), with a second, mirrored look where it is unsure; edges follow the photo. "
                "Good for simple, clear subjects."
            ),
            "model": "u2netp.onnx",
            "modelLicence": "Apache-2.0",
            "unavailableReason": None,
        },
        {
            "tier": "standard",
            "credits": 8,
            "available": True,
            "description": (
                "Two models (U²-Net, and U²-Net-p on the mirrored photo) vote on the subject, so "
                "a mistake of one model is outvoted; edges follow the photo."
            ),
            "model": "u2net.onnx",
            "modelLicence": "Apache-2.0",
            "unavailableReason": None,
        },
        {
            "tier": "professional",
            "credits": 15,
            "available": False,
            "description": (
                "Two strong models (IS-Net and U²-Net, and U²-Net again on the mirrored photo) vote; "
                "where they disagree the photo's colours decide; finer edges, fewer dropped or extra parts."
            ),
            "model": "isnet_fp16.onnx",
            "modelLicence": "AGPL-3.0 + Apache-2.0",
            "unavailableReason": (
                "it needs isnet_fp16.onnx (AGPL-3.0), a licence ALLOWED_MODEL_LICENCES does not allow"
            ),
        },
    ],
    "volumeDiscounts": [
        {"minImages": 20, "maxImages": 49, "percent": 5},
        {"minImages": 50, "maxImages": 99, "percent": 10},
        {"minImages": 100, "maxImages": 199, "percent": 15},
        {"minImages": 200, "maxImages": 500, "percent": 20},
    ],
    "plans": [
        {
            "plan": "starter",
            "price": 99000,
            "currency": "IDR",
            "credits": 990,
            "periodDays": 30,
            "dailyQuotas": {"basic": 50, "standard": 20},
        },
        {
            "plan": "pro",
            "price": 299000,
            "currency": "IDR",
            "credits": 2990,
            "periodDays": 30,
            "dailyQuotas": {"basic": 200, "standard": 100, "professional": 50, "industry": 20},
        },
    ],
    "limits": {
        "maxImageBytes": 20971520,
        "maxMegapixels": 50.0,
        "minSide": 16,
        "batchMinImages": 2,
        "batchMaxImages": 500,
        "inputFormats": ["jpeg", "png", "webp"],
        "outputFormats": ["png", "webp", "jpg"],
    },
}

SUBSCRIPTION: dict[str, Any] = {
    "subscription": {
        "id": "5d2b8c1e-7f3a-4e9b-a6d0-1c2e3f4a5b6c",
        "plan": "starter",
        "status": "active",
        "startedAt": "2025-06-01T08:00:00Z",
        "expiresAt": "2025-07-01T08:00:00Z",
        "cancelledAt": None,
        "dailyQuotas": {"basic": 50, "standard": 20},
        "usageToday": {"basic": 4},
        "active": True,
        "paymentId": None,
        "dailyLimit": 70,
        "remainingRemovals": 66,
        "nextResetDate": "2025-06-02T00:00:00Z",
        "usageRecords": [{"date": "2025-06-01", "tier": "basic", "removalsCount": 4, "totalCreditsEquivalent": 12}],
    }
}
SUBSCRIPTION_RENEWED: dict[str, Any] = {
    "subscription": {**SUBSCRIPTION["subscription"], "expiresAt": "2025-07-31T08:00:00Z"}
}
SUBSCRIPTION_GRANTED: dict[str, Any] = {
    "userId": "alice",
    "plan": "pro",
    "paymentId": "midtrans-ORDER-20250601-0042",
    "granted": True,
    "grantedBy": "ops",
    "subscription": {
        **SUBSCRIPTION["subscription"],
        "plan": "pro",
        "dailyQuotas": {"basic": 200, "standard": 100, "professional": 50, "industry": 20},
        "usageToday": {},
        "paymentId": "midtrans-ORDER-20250601-0042",
        "dailyLimit": 370,
        "remainingRemovals": 370,
        "usageRecords": [],
    },
}
SUBSCRIPTION_CANCELLED: dict[str, Any] = {
    "subscription": {
        **SUBSCRIPTION["subscription"],
        "status": "cancelled",
        "cancelledAt": "2025-06-02T10:00:00Z",
        "active": False,
        "remainingRemovals": 0,
    }
}

# ----------------------------------------------------------------------------- requests

JOB_FORM_EXAMPLES = [
    Example(
        id="basic-png",
        summary="One photo, basic tier, transparent PNG",
        description="`curl -H 'Authorization: Bearer …' -F image=@quokka.jpg -F tier=basic …/jobs`",
        value={"image": "(binary JPEG, PNG or WebP)", "tier": "basic"},
    ),
    Example(
        id="white-jpg",
        summary="Standard tier, on white, cropped to the subject, at most 1024 px",
        value={
            "image": "(binary)",
            "tier": "standard",
            "format": "jpg",
            "bg_color": "#ffffff",
            "crop": "true",
            "crop_margin": "5%",
            "size": "1024",
        },
    ),
]
BATCH_FORM_EXAMPLES = [
    Example(
        id="three-photos",
        summary="Three photos in one batch",
        description="`curl … -F 'images[]=@a.jpg' -F 'images[]=@b.jpg' -F 'images[]=@c.jpg' -F tier=basic …/batches`",
        value={"images[]": ["(binary)", "(binary)", "(binary)"], "tier": "basic", "format": "png", "name": "June"},
    )
]
SUBSCRIBE_EXAMPLES = [
    Example(
        id="starter",
        summary="Subscribe to the starter plan (990 credits a period)",
        description="`curl -H 'Idempotency-Key: sub-2025-06' -d '{\"plan\": \"starter\"}' …/subscription`",
        value={"plan": "starter"},
    )
]
SUBSCRIPTION_GRANT_EXAMPLES = [
    Example(
        id="grant",
        summary="Alice paid Rp 299,000 through the gateway: one pro period, once",
        value={"userId": "alice", "plan": "pro", "paymentId": "midtrans-ORDER-20250601-0042"},
    )
]
GRANT_EXAMPLES = [
    Example(
        id="grant",
        summary="Give alice 500 credits, once",
        value={"userId": "alice", "credits": 500, "reason": "welcome bonus", "grantId": "welcome-alice"},
    )
]

# ----------------------------------------------------------------------------- responses per operation

LIVE_RESPONSES = {200: ok(Liveness, Example(id="ok", summary="Alive", value={"status": "ok"}), description="Alive")}

READY_RESPONSES = {
    200: ok(
        Readiness,
        Example(
            id="ready",
            summary="Everything is reachable",
            value={
                "status": "ready",
                "checks": {
                    "database": {"ok": True, "detail": "reachable"},
                    "schema": {"ok": True, "detail": "schema is up to date"},
                    "redis": {"ok": True, "detail": "reachable"},
                    "worker": {"ok": True, "detail": "1 worker(s) seen in the last 30s"},
                    "models": {"ok": True, "detail": "every tier's model is installed"},
                },
                "pendingMigrations": [],
                "missingTables": [],
                "workers": 1,
                "tiers": {"basic": True, "standard": True, "professional": True, "industry": True},
            },
        ),
        description="Ready",
    ),
    503: problems(
        problem(
            503,
            "no_worker",
            "Service Unavailable",
            "Not ready: worker: no worker heartbeat in the last 30s",
            "/health/ready",
            pendingMigrations=[],
            missingTables=[],
            checks={
                "database": {"ok": True, "detail": "reachable"},
                "schema": {"ok": True, "detail": "schema is up to date"},
                "redis": {"ok": True, "detail": "reachable"},
                "worker": {"ok": False, "detail": "no worker heartbeat in the last 30s"},
                "models": {"ok": True, "detail": "every tier's model is installed"},
            },
            workers=0,
            tiers={"basic": True, "standard": True, "professional": True, "industry": True},
        ),
        description="Not ready: what is wrong, as problem+json (with `Retry-After`)",
    ),
}

STATS_RESPONSES = {
    200: ok(
        StatsEnvelope,
        Example(
            id="stats",
            summary="A subscriber's usage",
            value={
                "stats": {
                    "totalSingleRemovals": 12,
                    "totalBatches": 2,
                    "hasSubscription": True,
                    "plan": "starter",
                    "creditsUsed": 87,
                    "completedByTier": {"basic": 30, "standard": 4},
                    "totalJobs": 37,
                    "creditsSpent": 87,
                    "hasActiveSubscription": True,
                }
            },
        ),
        description="Usage statistics",
    ),
    401: unauthorized("/stats"),
}

BALANCE_RESPONSES = {
    200: ok(Balance, Example(id="balance", value={"balance": 997, "userId": "alice"}), description="The balance"),
    401: unauthorized("/credits/balance"),
}

PRICING_RESPONSES = {
    200: ok(Pricing, Example(id="pricing", summary="Prices and limits", value=PRICING), description="Pricing"),
    401: unauthorized("/pricing"),
}

GET_SUBSCRIPTION_RESPONSES = {
    200: ok(
        SubscriptionEnvelope,
        Example(id="active", summary="An active subscription", value=SUBSCRIPTION),
        Example(id="none", summary="Never subscribed", value={"subscription": None}),
        description="The subscription, or null",
    ),
    401: unauthorized("/subscription"),
}

SUBSCRIBE_RESPONSES = {
    201: ok(
        SubscriptionMessage,
        Example(id="subscribed", value={"message": "Subscription created successfully", **SUBSCRIPTION}),
        description="Subscribed and charged (a replayed `Idempotency-Key` gets the same, `Idempotent-Replayed: true`)",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 990 credits but the balance is 120.",
            "/subscription",
            required=990,
            balance=120,
        ),
        description="Not enough credits for the plan (problem+json); nothing is stored",
    ),
    409: problems(
        problem(
            409,
            "already_subscribed",
            "Conflict",
            "You already have an active subscription; cancel it first to change plans.",
            "/subscription",
        ),
        description="Already subscribed (problem+json)",
    ),
    403: problems(
        problem(
            403,
            "forbidden",
            "Forbidden",
            "A payment is applied by an operator (POST /subscriptions/grants), not by naming its paymentId; "
            "send only the plan to pay for it in credits.",
            "/subscription",
        ),
        description="A `paymentId` sent by the user (problem+json)",
    ),
    422: problems(
        problem(
            422,
            "invalid_options",
            "Invalid output options",
            "Unknown plan 'gold'; choose one of starter, pro",
            "/subscription",
            parameter="plan",
        ),
        description="Unknown plan (problem+json)",
    ),
    400: bad_request("POST", "/subscription", "plan", "Object missing required field `plan`", "body"),
}

RENEW_SUBSCRIPTION_RESPONSES = {
    200: ok(
        SubscriptionMessage,
        Example(
            id="renewed",
            summary="One more period from the old expiry",
            value={"message": "Subscription renewed successfully", **SUBSCRIPTION_RENEWED},
        ),
        description="Renewed and charged (a replayed `Idempotency-Key` gets the same, `Idempotent-Replayed: true`)",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 990 credits but the balance is 40.",
            "/subscription/renew",
            required=990,
            balance=40,
        ),
        description="Not enough credits for another period (problem+json); nothing changes",
    ),
    409: problems(
        problem(
            409,
            "conflict",
            "Conflict",
            "There is no subscription to renew; subscribe to a plan first.",
            "/subscription/renew",
        ),
        description="No subscription to renew (problem+json)",
    ),
    422: problems(
        problem(
            422,
            "idempotency_key_reused",
            "Idempotency key reused",
            "This Idempotency-Key was already used with a different request; use a new key for a new request.",
            "/subscription/renew",
        ),
        description="The key was used for another request (problem+json)",
    ),
}

SUBSCRIPTION_GRANT_RESPONSES = {
    201: ok(
        SubscriptionGrantOut,
        Example(id="granted", value=SUBSCRIPTION_GRANTED),
        Example(
            id="replayed",
            summary="Same paymentId again: nothing changes",
            value={**SUBSCRIPTION_GRANTED, "granted": False},
        ),
        description="Granted (or already granted for this `paymentId`)",
    ),
    403: problems(
        problem(
            403, "forbidden", "Forbidden", "Granting a subscription needs an admin token.", "/subscriptions/grants"
        ),
        _token_required("Granting a subscription", "/subscriptions/grants"),
        description="Not an admin, or an admin's API key instead of a bearer token (problem+json)",
    ),
    409: problems(
        problem(
            409,
            "conflict",
            "Conflict",
            "Payment 'midtrans-ORDER-20250601-0042' was already applied to another user.",
            "/subscriptions/grants",
        ),
        problem(
            409,
            "already_subscribed",
            "Conflict",
            "This user has an active starter subscription; cancel it before granting pro.",
            "/subscriptions/grants",
        ),
        description="The payment belongs to another user, or another plan is active (problem+json)",
    ),
    422: problems(
        problem(
            422,
            "invalid_options",
            "Invalid output options",
            "paymentId must be 1-200 printable characters",
            "/subscriptions/grants",
            parameter="paymentId",
        ),
        description="A bad userId, plan or paymentId (problem+json)",
    ),
    400: bad_request("POST", "/subscriptions/grants", "paymentId", "Object missing required field `paymentId`", "body"),
}

CANCEL_SUBSCRIPTION_RESPONSES = {
    200: ok(
        SubscriptionMessage,
        Example(id="cancelled", value={"message": "Subscription cancelled successfully", **SUBSCRIPTION_CANCELLED}),
        description="Cancelled at once; the rest of the period is not refunded",
    ),
    409: problems(
        problem(409, "conflict", "Conflict", "There is no active subscription to cancel.", "/subscription"),
        description="Nothing to cancel (problem+json)",
    ),
}

GRANT_RESPONSES = {
    201: ok(
        GrantOut,
        Example(
            id="granted",
            value={"userId": "alice", "credits": 500, "granted": True, "balance": 1497, "grantedBy": "ops"},
        ),
        Example(
            id="replayed",
            summary="Same grantId again: nothing added",
            value={"userId": "alice", "credits": 500, "granted": False, "balance": 1497, "grantedBy": "ops"},
        ),
        description="Granted (or already granted under this `grantId`)",
    ),
    403: problems(
        problem(403, "forbidden", "Forbidden", "Granting credits needs an admin token.", "/credits/grants"),
        _token_required("Granting credits", "/credits/grants"),
        description="Not an admin, or an admin's API key instead of a bearer token (problem+json)",
    ),
    400: bad_request("POST", "/credits/grants", "credits", "Expected `int`, got `str`", "body"),
}

LIST_GRANTS_RESPONSES = {
    200: ok(
        GrantList,
        Example(
            id="grants",
            value={
                "grants": [
                    {
                        "id": "0c5e3f1a-7b2d-4e9c-8a61-5d4f2b3c1e07",
                        "userId": "alice",
                        "credits": 500,
                        "reason": "invoice 2025-0042",
                        "entryKey": "grant:invoice-2025-0042",
                        "grantedBy": "ops",
                        "grantedVia": "token",
                        "createdAt": "2025-06-01T09:00:00.123456Z",
                    },
                    {
                        "id": "6a2b8d4e-1c3f-4a5b-9e7d-0f1a2b3c4d5e",
                        "userId": "alice",
                        "credits": 1000,
                        "reason": "manual grant",
                        "entryKey": "grant:2f9e1c7a-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
                        "grantedBy": "root",
                        "grantedVia": "cli",
                        "createdAt": "2025-05-30T17:12:00.654321Z",
                    },
                ],
                "limit": 50,
            },
        ),
        description="Newest first",
    ),
    403: problems(
        problem(403, "forbidden", "Forbidden", "Listing grants needs an admin token.", "/credits/grants"),
        _token_required("Listing grants", "/credits/grants"),
        description="Not an admin, or an admin's API key instead of a bearer token (problem+json)",
    ),
}

CREATE_JOB_RESPONSES = {
    202: ok(
        JobOut,
        Example(id="accepted", summary="Accepted and queued", value=JOB_PENDING),
        description="Accepted: the job, with `Location` to poll",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 3 credits but the balance is 2.",
            "/jobs",
            required=3,
            balance=2,
        ),
        description="Not enough credits (problem+json); nothing is charged",
    ),
    415: problems(
        problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "only JPEG, PNG and WebP images are accepted (detected from the file's bytes)",
            "/jobs",
        ),
        description="Not an image (problem+json)",
    ),
    422: problems(
        problem(
            422,
            "invalid_options",
            "Invalid output options",
            "format must be png, webp or jpg, got 'gif'",
            "/jobs",
            summary="A bad output option",
        ),
        problem(
            422,
            "unknown_tier",
            "Unknown tier",
            "Unknown tier 'ultra'; choose one of basic, standard, professional, industry",
            "/jobs",
            tier="ultra",
        ),
        problem(
            422,
            "unknown_field",
            "Unknown field",
            "POST /jobs does not take the form field 'qualityTier'; did you mean 'tier'? (`qualityTier` is the "
            "Lumiku clients' name: POST /remove-single takes it.) Accepted fields: bg_color, channels, crop, "
            "crop_margin, format, image, size, tier, webhook_url.",
            "/jobs",
            summary="A field this route does not take",
            fields=["qualityTier"],
            accepted=["bg_color", "channels", "crop", "crop_margin", "format", "image", "size", "tier", "webhook_url"],
        ),
        description="Invalid options, tier, image or an unknown field (problem+json)",
    ),
    409: webhook_secret_missing("/jobs"),
    400: bad_request("POST", "/jobs", "image", "Object missing required field `image`", "body"),
}

LIST_JOBS_RESPONSES = {
    200: ok(
        JobList,
        Example(
            id="page",
            summary="A page of jobs",
            value={"jobs": [lumiku_job(JOB_COMPLETED)], "nextCursor": "MjAyNS0wNi0wMVQwOTozMDowMHwzZjZj", "limit": 20},
        ),
        description="A page of jobs",
    ),
    401: unauthorized("/jobs"),
    400: bad_request("GET", "/jobs", "limit", "Expected `int` <= 100"),
}


def _with_job(job: dict[str, Any]) -> dict[str, Any]:
    """``GET /jobs/{id}``: the job, and the same job under ``job`` (the original backend's envelope)."""
    return {**lumiku_job(job), "job": lumiku_job(job)}


def _with_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """``GET /batches/{id}``: the batch, and under ``batch`` the same without ``images`` (original frontend)."""
    return {**lumiku_batch(batch), "batch": {**lumiku_batch(batch), "images": None}}


GET_JOB_RESPONSES = {
    200: ok(
        JobDetail,
        Example(id="pending", summary="Still queued (`Retry-After: 1`)", value=_with_job(JOB_PENDING)),
        Example(id="completed", summary="Done: `links.result` is set", value=_with_job(JOB_COMPLETED)),
        Example(id="failed", summary="Failed and refunded", value=_with_job(JOB_FAILED)),
        description="The job (with `ETag`; `304` for a matching `If-None-Match`), also under `job`",
    ),
    404: problems(
        problem(404, "not_found", "Not Found", f"No job {_JOB_ID}.", f"/jobs/{_JOB_ID}", resource="job"),
        description="No such job for this user (problem+json)",
    ),
    400: bad_request("GET", f"/jobs/{_JOB_ID}", "If-None-Match", "Invalid header", "header"),
}

JOB_RESULT_RESPONSES = {
    404: problems(
        problem(
            404,
            "result_not_ready",
            "Result not ready",
            f"Job {_JOB_ID} is processing; the result exists once it is completed.",
            f"/jobs/{_JOB_ID}/result",
            jobStatus="processing",
        ),
        description="No result yet, or the job failed (problem+json)",
    ),
    400: bad_request("GET", f"/jobs/{_JOB_ID}/result", "job_id", "Invalid UUID", "path"),
}

CANCEL_JOB_RESPONSES = {
    200: ok(JobOut, Example(id="cancelled", value=JOB_CANCELLED), description="Cancelled and refunded"),
    409: problems(
        problem(
            409,
            "job_not_cancellable",
            "Conflict",
            f"Job {_JOB_ID} is completed; only a pending job can be cancelled.",
            f"/jobs/{_JOB_ID}",
            jobStatus="completed",
        ),
        description="Already started or finished (problem+json)",
    ),
    400: bad_request("DELETE", f"/jobs/{_JOB_ID}", "job_id", "Invalid UUID", "path"),
}

CREATE_BATCH_RESPONSES = {
    202: ok(
        BatchOut,
        Example(id="accepted", summary="Accepted and queued", value=BATCH_PENDING),
        description="Accepted: the batch, with `Location` to poll",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 71 credits but the balance is 40.",
            "/batches",
            required=71,
            balance=40,
        ),
        description="Not enough credits (problem+json); nothing is charged",
    ),
    422: problems(
        problem(
            422,
            "batch_too_small",
            "Invalid batch size",
            "A batch needs at least 2 images; got 1. Use POST /jobs for one image.",
            "/batches",
            minImages=2,
            received=1,
        ),
        description="Wrong number of images, bad options or a bad image (problem+json)",
    ),
    409: webhook_secret_missing("/batches"),
    400: bad_request("POST", "/batches", "Idempotency-Key", "Expected `str`", "header"),
}

LIST_BATCHES_RESPONSES = {
    200: ok(
        BatchList,
        Example(id="page", value={"batches": [{**BATCH_PARTIAL, "images": None}], "nextCursor": None, "limit": 20}),
        description="A page of batches",
    ),
    401: unauthorized("/batches"),
    400: bad_request("GET", "/batches", "limit", "Expected `int` >= 1"),
}

GET_BATCH_RESPONSES = {
    200: ok(
        BatchDetail,
        Example(id="processing", summary="Under way (`Retry-After: 2`)", value=_with_batch(BATCH_PROCESSING)),
        Example(id="partial", summary="Finished, one image failed and was refunded", value=_with_batch(BATCH_PARTIAL)),
        description="The batch with one entry per image; the batch alone also under `batch`",
    ),
    404: problems(
        problem(404, "not_found", "Not Found", "No batch bat_nope.", "/batches/bat_nope", resource="batch"),
        description="No such batch for this user (problem+json)",
    ),
    400: bad_request("GET", "/batches/bat_nope", "batch_id", "Expected `str`", "path"),
}

DOWNLOAD_BATCH_RESPONSES = {
    409: problems(
        problem(
            409,
            "batch_not_finished",
            "Conflict",
            "Batch bat_7QkZ2xN4pR is still processing (2/3 images done).",
            f"/batches/{_BATCH_ID}/download",
        ),
        description="Some images are still pending or processing (problem+json, `Retry-After`)",
    ),
    404: problems(
        problem(
            404,
            "result_not_ready",
            "Result not ready",
            "No image of batch bat_7QkZ2xN4pR succeeded; there is nothing to download.",
            f"/batches/{_BATCH_ID}/download",
        ),
        description="Nothing succeeded (problem+json)",
    ),
    400: bad_request("GET", f"/batches/{_BATCH_ID}/download", "batch_id", "Expected `str`", "path"),
}

# ----------------------------------------------------------------------------- webhooks

_WEBHOOK_SECRET_INFO: dict[str, Any] = {
    "fingerprint": "5f0c1e9a2b7d4c83",
    "createdAt": "2025-06-01T09:00:00Z",
    "rotatedAt": "2025-06-03T08:00:00Z",
    "previousFingerprint": "a93e27c0d41b6f15",
    "previousExpiresAt": "2025-06-04T08:00:00Z",
}

CREATE_WEBHOOK_SECRET_RESPONSES = {
    201: ok(
        WebhookSecretCreated,
        Example(
            id="created",
            summary="A first secret",
            value={
                "fingerprint": "5f0c1e9a2b7d4c83",
                "createdAt": "2025-06-01T09:00:00Z",
                "rotatedAt": None,
                "previousFingerprint": None,
                "previousExpiresAt": None,
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5ZoFJ0cxYYo=",
            },
        ),
        Example(
            id="rotated",
            summary="Rotated: the previous secret also signs for 24 hours",
            value={**_WEBHOOK_SECRET_INFO, "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD0GVPbHfEjNQ="},
        ),
        description="The new secret: store it now, it is never shown again (`Cache-Control: no-store`)",
    ),
    401: unauthorized("/webhooks/secret"),
    403: insufficient_scope("Rotating the webhook signing secret", "/webhooks/secret"),
}

GET_WEBHOOK_SECRET_RESPONSES = {
    200: ok(
        WebhookSecretInfo,
        Example(id="rotated", summary="Fingerprints and dates, never the secret", value=_WEBHOOK_SECRET_INFO),
        description="The secret's fingerprint and dates",
    ),
    404: problems(
        problem(
            404,
            "not_found",
            "Not Found",
            "No webhook signing secret yet; POST /api/background-remover/webhooks/secret creates one.",
            "/webhooks/secret",
            resource="webhook_secret",
        ),
        description="No secret created yet (problem+json)",
    ),
}

LIST_WEBHOOK_DELIVERIES_RESPONSES = {
    200: ok(
        WebhookDeliveryList,
        Example(
            id="deliveries",
            summary="One delivered, one waiting for a retry, one not sent",
            value={
                "deliveries": [
                    {
                        "kind": "job",
                        "objectId": _JOB_ID,
                        "status": "failed",
                        "attempts": 0,
                        "lastStatusCode": None,
                        "lastError": "not sent: 50 earlier deliveries to your receiver are still waiting for a "
                        "retry (at most 50); make it answer 2xx quickly, or poll instead",
                        "createdAt": "2025-06-02T10:00:09Z",
                        "updatedAt": "2025-06-02T10:00:09Z",
                    },
                    {
                        "kind": "batch",
                        "objectId": _BATCH_ID,
                        "status": "retrying",
                        "attempts": 2,
                        "lastStatusCode": 503,
                        "lastError": "HTTP 503",
                        "createdAt": "2025-06-02T10:00:04Z",
                        "updatedAt": "2025-06-02T10:00:15Z",
                    },
                    {
                        "kind": "job",
                        "objectId": "0d3b8f7e-2c41-4a9e-8b6d-5f1e7c9a3b20",
                        "status": "delivered",
                        "attempts": 1,
                        "lastStatusCode": 200,
                        "lastError": None,
                        "createdAt": "2025-06-02T10:00:01Z",
                        "updatedAt": "2025-06-02T10:00:01Z",
                    },
                ],
                "limit": 20,
            },
        ),
        description="Newest first",
    ),
    400: bad_request("GET", "/webhooks/deliveries", "limit", "Expected `int` <= 100"),
}

# ----------------------------------------------------------------------------- API keys

_KEY_ID = "5b0d7c1e-2f4a-4c8e-9b6d-3a1e0f9c7d52"
API_KEY: dict[str, Any] = {
    "id": _KEY_ID,
    "prefix": "bgr_Q2x9mT0a",
    "name": "nightly export",
    "scope": "basic",
    "createdAt": "2025-06-01T09:30:00.123456Z",
    "lastUsedAt": "2025-06-02T04:00:12.004211Z",
}
API_KEY_EXAMPLES = [
    Example(id="named", summary="A key with a label", value={"name": "nightly export"}),
    Example(
        id="manage",
        summary="A key that may also rotate the webhook secret and revoke other keys",
        value={"name": "key rotation job", "scope": "manage"},
    ),
]

CREATE_API_KEY_RESPONSES = {
    201: ok(
        ApiKeyCreated,
        Example(
            id="created",
            summary="The key, shown this once",
            value={**API_KEY, "lastUsedAt": None, "key": "bgr_Q2x9mT0aVn4Lk7yWc1Rz8bP3sE6uH5jD0fG2aK9qM4t"},
        ),
        description="Created: store `key` now, it is never shown again",
    ),
    403: problems(
        _token_required("Creating an API key", "/api-keys"),
        description="Sent with an API key instead of a bearer token (problem+json)",
    ),
    409: problems(
        problem(
            409,
            "api_key_limit_reached",
            "Conflict",
            "You already have 10 active API keys, the most allowed; revoke one first.",
            "/api-keys",
            limit=10,
        ),
        description="Too many active keys (problem+json)",
    ),
    401: unauthorized("/api-keys"),
}

LIST_API_KEYS_RESPONSES = {
    200: ok(ApiKeyList, Example(id="keys", value={"apiKeys": [API_KEY], "limit": 10}), description="Active keys"),
    401: unauthorized("/api-keys"),
}

REVOKE_API_KEY_RESPONSES = {
    200: ok(ApiKeyOut, Example(id="revoked", value=API_KEY), description="Revoked: refused from the next request on"),
    404: problems(
        problem(
            404, "not_found", "Not Found", f"No active API key {_KEY_ID}.", f"/api-keys/{_KEY_ID}", resource="api_key"
        ),
        description="No such active key of the caller's (problem+json)",
    ),
    403: insufficient_scope("Revoking another API key", f"/api-keys/{_KEY_ID}"),
}


def _signed_link_problems(path: str) -> dict[int, ResponseSpec]:
    return {
        403: problems(
            problem(
                403,
                "invalid_signature",
                "Forbidden",
                "The link's signature does not match: it was altered or was not issued here.",
                path,
            ),
            description="A missing, altered or foreign signature (problem+json)",
        ),
        410: problems(
            problem(
                410,
                "link_expired",
                "Gone",
                "This link has expired; ask the API for the job or batch again to get a fresh one.",
                path,
            ),
            problem(
                410,
                "result_expired",
                "Gone",
                "The result was deleted after the retention period.",
                path,
            ),
            description="The link expired, or the file was deleted after the retention period (problem+json)",
        ),
    }


SIGNED_RESULT_RESPONSES = _signed_link_problems(f"/signed/jobs/{_JOB_ID}/result")
SIGNED_ZIP_RESPONSES = _signed_link_problems(f"/signed/batches/{_BATCH_ID}/zip")
