"""OpenAPI examples of the remove.bg routes (documentation only; a unit test decodes each one)."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from api.removebg.schemas import Account, Errors, ResultEnvelope


def _errors(status: int, code: str, title: str, detail: str, description: str) -> ResponseSpec:
    value: dict[str, Any] = {"errors": [{"title": title, "code": code, "detail": detail}]}
    return ResponseSpec(
        data_container=Errors,
        description=description,
        media_type="application/json",
        examples=[Example(id=code, summary=f"{status} {code}", value=value)],
        generate_examples=False,
    )


_AUTH = _errors(
    403, "auth_failed", "Authentication failed", "The API key is unknown or was revoked", "No valid X-Api-Key"
)
_RATE = _errors(
    429,
    "rate_limit_exceeded",
    "Rate limit exceeded",
    "Rate limit of 20 requests/s (burst 100) exceeded; retry in 2 s.",
    "Too many requests: `Retry-After` says when to retry",
)

REMOVEBG_RESPONSES = {
    200: ResponseSpec(
        data_container=ResultEnvelope,
        description=(
            "The image itself (`image/png`, `image/jpeg` or `image/webp`) with `X-Credits-Charged`, `X-Width`, "
            "`X-Height`, `X-Type`, `X-Foreground-Left/-Top/-Width/-Height`; this JSON with `Accept: application/json`"
        ),
        media_type="application/json",
        examples=[
            Example(
                id="json",
                summary="Accept: application/json",
                value={
                    "data": {
                        "result_b64": "iVBORw0KGgoAAAANSUhEUgAA…",
                        "foreground_top": 12,
                        "foreground_left": 87,
                        "foreground_width": 402,
                        "foreground_height": 415,
                    }
                },
            )
        ],
        generate_examples=False,
    ),
    400: _errors(
        400,
        "unsupported_parameter",
        "Unsupported parameter",
        "crop_margin with different margins per side is not supported: give one margin for all sides",
        "Invalid input: parameter, image or missing source",
    ),
    402: _errors(
        402, "insufficient_credits", "Insufficient credits", "This costs 8 credits but the balance is 3.", "No credits"
    ),
    403: _AUTH,
    429: _errors(
        429,
        "rate_limit_exceeded",
        "Rate limit exceeded",
        "Too many requests waiting for their images (this account's limit); nothing was charged. Retry in 5 s, "
        "or submit with POST /api/background-remover/jobs and poll.",
        "Too many requests, or too many of this account's calls already waiting: `Retry-After` says when to retry",
    ),
    503: _errors(
        503,
        "service_unavailable",
        "Service unavailable",
        "The server is restarting; the image was cancelled and nothing was charged. Retry in a moment.",
        "The server is restarting (also `queue_full` and the other 503s of our API): retry after `Retry-After`",
    ),
    504: _errors(
        504,
        "timeout",
        "Processing timed out",
        "No worker took the image within 60 s; it was cancelled and nothing was charged. Retry later.",
        "Not done within REMOVEBG_WAIT_S",
    ),
}

ACCOUNT_RESPONSES = {
    200: ResponseSpec(
        data_container=Account,
        description="Credits and free calls",
        examples=[
            Example(
                id="account",
                value={
                    "data": {
                        "attributes": {
                            "credits": {"total": 997, "subscription": 0, "payg": 997, "enterprise": 0},
                            "api": {"free_calls": 20, "sizes": "all"},
                        }
                    }
                },
            )
        ],
        generate_examples=False,
    ),
    403: _AUTH,
    429: _RATE,
}
