"""OpenAPI examples of the Lumiku adapter's routes (``api.lumiku.routes``): what the original clients send
and read. Only documentation, checked against the response types like ``openapi_examples``."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Example

from api.lumiku.views import (
    BatchEnvelope,
    BatchWithJobsEnvelope,
    JobEnvelope,
    PricingQuoteEnvelope,
    ZipLink,
)
from api.schemas import SubscriptionMessage
from api.web.openapi_examples import (
    BATCH_PARTIAL,
    BATCH_PENDING,
    JOB_COMPLETED,
    JOB_PENDING,
    SIGNED_BATCH_ZIP,
    SUBSCRIPTION,
    SUBSCRIPTION_CANCELLED,
    bad_request,
    lumiku_batch,
    lumiku_job,
    ok,
    problem,
    problems,
)

_BATCH_ID = BATCH_PENDING["id"]


def _item(position: int, status: str) -> dict[str, Any]:
    """One image of a batch as the original backend listed it: a full job with its ``itemIndex``."""
    base = lumiku_job(JOB_COMPLETED if status == "completed" else JOB_PENDING)
    job_id = f"0c8d6e4a-1b2c-4d3e-8f9a-{position:012d}"
    return {
        **base,
        "id": job_id,
        "batchId": _BATCH_ID,
        "originalFilename": f"photo {position}.jpg",
        "position": position,
        "itemIndex": position,
        "links": {**base["links"], "self": f"/api/background-remover/jobs/{job_id}"},
    }


# ----------------------------------------------------------------------------- requests

REMOVE_FORM = [
    Example(
        id="remove",
        summary="The original backend's form",
        description="`curl -H 'Authorization: Bearer <Lumiku token>' -F image=@photo.jpg -F tier=basic …/remove`",
        value={"image": "(binary JPEG, PNG or WebP)", "tier": "basic"},
    )
]
REMOVE_SINGLE_FORM = [
    Example(
        id="remove-single",
        summary="The original frontend's form",
        value={"image": "(binary)", "qualityTier": "professional"},
    )
]
BATCH_FORM = [
    Example(
        id="batch",
        summary="The original backend's form: files under `images[0]`, `images[1]`, …",
        value={"tier": "basic", "images[0]": "(binary)", "images[1]": "(binary)", "images[2]": "(binary)"},
    )
]
REMOVE_BATCH_FORM = [
    Example(
        id="remove-batch",
        summary="The original frontend's form: `images` repeated",
        value={"images": ["(binary)", "(binary)", "(binary)"], "qualityTier": "basic", "batchName": "June"},
    )
]
SUBSCRIBE_FORM = [Example(id="starter", summary="What the original frontend sends", value={"plan": "starter"})]
CALCULATE_FORM = [Example(id="quote", summary="25 basic images", value={"totalImages": 25, "tier": "basic"})]

# ----------------------------------------------------------------------------- responses

REMOVE_RESPONSES = {
    200: ok(
        JobEnvelope,
        Example(id="done", value={"message": "Background removed successfully", "job": lumiku_job(JOB_COMPLETED)}),
        description="Done: the job, with `processedUrl` / `processedImageUrl` signed for `<img src>`",
    ),
    202: ok(
        JobEnvelope,
        Example(
            id="waiting",
            summary="Not done within LUMIKU_WAIT_S",
            value={
                "message": f"Background removal is still in progress; poll GET {JOB_PENDING['links']['self']}",
                "job": lumiku_job(JOB_PENDING),
            },
        ),
        description=(
            "Still under way after `LUMIKU_WAIT_S`, or at once when the account has `MAX_WAITS_PER_USER` requests "
            "waiting or the server is restarting: poll `GET /jobs/{id}` (`Location`)"
        ),
    ),
    422: problems(
        problem(
            422,
            "no_subject_detected",
            "Background removal failed",
            "The model found no foreground in the image.",
            "/remove",
            summary="The image failed (refunded); the failed job is in `job`",
        ),
        problem(
            422,
            "unknown_tier",
            "Unknown tier",
            "Send `tier` (or `qualityTier`): one of basic, standard, professional, industry",
            "/remove",
            tier=None,
        ),
        description="The image or the form cannot be served (problem+json with `error`)",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 15 credits but the balance is 2.",
            "/remove",
            required=15,
            balance=2,
        ),
        description="Not enough credits (problem+json with `error`); nothing is charged",
    ),
}

_BATCH_ACCEPTED = {"message": "Batch processing started", "batch": lumiku_batch(BATCH_PENDING)}
BATCH_RESPONSES = {
    200: ok(BatchEnvelope, Example(id="accepted", value=_BATCH_ACCEPTED), description="Accepted and queued"),
    422: problems(
        problem(
            422,
            "unknown_field",
            "Unknown field",
            "POST /remove-batch does not take the form field 'format'. Accepted fields: batchName, images, "
            "images[], qualityTier, tier.",
            "/remove-batch",
            fields=["format"],
            accepted=["batchName", "images", "images[]", "qualityTier", "tier"],
        ),
        description="A bad form (problem+json with `error`)",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 71 credits but the balance is 40.",
            "/batch",
            required=71,
            balance=40,
        ),
        description="Not enough credits (problem+json with `error`); nothing is charged",
    ),
}

GET_BATCH_RESPONSES = {
    200: ok(
        BatchWithJobsEnvelope,
        Example(
            id="partial",
            value={
                "batch": {
                    **lumiku_batch(BATCH_PARTIAL),
                    "images": None,
                    "jobs": [_item(0, "completed"), _item(1, "pending")],
                }
            },
        ),
        description="The batch with every image as a job, by `itemIndex`",
    ),
    404: problems(
        problem(404, "not_found", "Not Found", "No batch bat_nope.", "/batch/bat_nope", resource="batch"),
        description="No such batch for this user (problem+json with `error`)",
    ),
}

ZIP_LINK_RESPONSES = {
    200: ok(
        ZipLink,
        Example(id="zip", value={"zipUrl": SIGNED_BATCH_ZIP, "zipSize": 1843210}),
        description="A signed link to the ZIP and its size in bytes",
    ),
    404: problems(
        problem(
            404,
            "result_not_ready",
            "Result not ready",
            "ZIP file not yet generated: batch bat_7QkZ2xN4pR is still processing.",
            f"/batch/{_BATCH_ID}/download",
        ),
        description="No ZIP yet (problem+json with `error`)",
    ),
}

SUBSCRIBE_RESPONSES = {
    201: ok(
        SubscriptionMessage,
        Example(id="subscribed", value={"message": "Subscription created successfully", **SUBSCRIPTION}),
        description="Subscribed and charged in credits",
    ),
    402: problems(
        problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "This costs 990 credits but the balance is 120.",
            "/subscription/subscribe",
            required=990,
            balance=120,
        ),
        description="Not enough credits (problem+json with `error`); nothing is stored",
    ),
    400: bad_request("POST", "/subscription/subscribe", "plan", "Object missing required field `plan`", "body"),
}

CANCEL_RESPONSES = {
    200: ok(
        SubscriptionMessage,
        Example(id="cancelled", value={"message": "Subscription cancelled successfully", **SUBSCRIPTION_CANCELLED}),
        description="Cancelled at once",
    ),
    409: problems(
        problem(409, "conflict", "Conflict", "There is no active subscription to cancel.", "/subscription/cancel"),
        description="Nothing to cancel (problem+json with `error`)",
    ),
}

CALCULATE_RESPONSES = {
    200: ok(
        PricingQuoteEnvelope,
        Example(
            id="quote",
            value={
                "pricing": {
                    "totalImages": 25,
                    "tier": "basic",
                    "creditPerImage": 3,
                    "originalPrice": 75,
                    "discountPercentage": 5,
                    "discountAmount": 4,
                    "finalPrice": 71,
                    "savings": 4,
                }
            },
        ),
        description="The price in credits, with the volume discount",
    ),
    422: problems(
        problem(
            422,
            "unknown_tier",
            "Unknown tier",
            "Unknown tier 'ultra'; choose one of basic, standard, professional, industry",
            "/pricing/calculate",
            tier="ultra",
        ),
        description="An unknown tier or a count out of range (problem+json with `error`)",
    ),
    400: bad_request(
        "POST", "/pricing/calculate", "totalImages", "Object missing required field `totalImages`", "body"
    ),
}
