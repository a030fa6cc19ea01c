"""Every error the client raises, mapped from the API's RFC 9457 problem+json ``code`` and status.

One root, so ``except BgRemoverClientError`` catches everything the client raises on purpose::

    BgRemoverClientError                 root; .status .code .detail .request_id .problem
    ├── TransportError                   no HTTP answer: connection refused, DNS, timeout (wraps httpx's error)
    ├── WaitTimeout                      wait() gave up before the job or batch reached a final state
    └── APIError                         the API answered with an error status
        ├── AuthenticationError          401 unauthorized: missing, expired or invalid bearer token
        ├── PermissionDenied             403 forbidden, invalid_signature, token_required, insufficient_scope
        ├── InsufficientCredits          402 insufficient_credits (.required, .balance)
        ├── NotFound                     404 not_found: no such job/batch for this user; 410 result_expired,
        │                                link_expired
        │   └── ResultNotReady           404 result_not_ready (.job_status)
        ├── Conflict                     409 conflict
        │   ├── JobNotCancellable        409 job_not_cancellable (.job_status)
        │   ├── BatchNotFinished         409 batch_not_finished
        │   ├── AlreadySubscribed        409 already_subscribed
        │   ├── IdempotencyInProgress    409 idempotency_in_progress
        │   └── WebhookSecretMissing     409 webhook_secret_missing: POST /webhooks/secret first
        ├── InvalidRequest               400/413/415/422: the request cannot be served as sent (.errors)
        │   ├── InvalidImage             an upload is unusable: unsupported_media_type (415), file_too_large
        │   │                            (413), resolution_too_high, resolution_too_low, corrupt_image,
        │   │                            no_subject_detected, invalid_image, payload_too_large
        │   │                            image_url_refused, image_url_unreachable, image_url_too_large (413)
        │   └── InvalidOptions           invalid_options, output_too_large, unknown_tier, invalid_webhook_url,
        │                                batch_too_small, batch_too_large, idempotency_key_reused,
        │                                unknown_field, form_field_too_large (413), validation_error,
        │                                bad_request, missing_source, unsupported_content_type (415)
        ├── RateLimited                  429 rate_limited, too_many_queued_images, storage_quota_exceeded,
        │                                webhook_lookup_busy (.retry_after)
        │   └── QuotaExceeded            429 quota_exceeded: the subscription's daily quota is used up
        ├── ServiceUnavailable           503 (.retry_after, .pending_migrations): database_unavailable,
        │                                storage_unavailable, schema_not_ready, tier_unavailable, no_worker, ...;
        │                                too_many_connections; 507 insufficient_storage
        └── ServerError                  any other 5xx (internal_error)

:func:`error_from_response` picks the most specific class for a status and ``code``; an unknown
code falls back to the class of its status, so a newer server never breaks an older client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "APIError",
    "AlreadySubscribed",
    "AuthenticationError",
    "BatchNotFinished",
    "BgRemoverClientError",
    "Conflict",
    "IdempotencyInProgress",
    "InsufficientCredits",
    "InvalidImage",
    "InvalidOptions",
    "InvalidRequest",
    "JobNotCancellable",
    "NotFound",
    "PermissionDenied",
    "QuotaExceeded",
    "RateLimited",
    "ResultNotReady",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "WaitTimeout",
    "error_from_problem",
    "error_from_response",
]


class BgRemoverClientError(Exception):
    """Root of every error this client raises.

    ``status`` is the HTTP status (``None`` when there was no answer), ``code`` the problem's stable
    code, ``detail`` a human sentence, ``request_id`` the id to quote to an operator and ``problem``
    the full problem+json body (``{}`` when there was none).
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "client_error",
        request_id: str | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.request_id = request_id
        self.problem: dict[str, Any] = dict(problem or {})

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}" if self.status is not None else self.code
        return f"{prefix}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, detail={self.detail!r})"


class TransportError(BgRemoverClientError):
    """The API could not be reached or did not answer in time (wraps :class:`httpx.TransportError`)."""

    def __init__(self, detail: str, *, code: str = "transport_error") -> None:
        super().__init__(detail, code=code)


class WaitTimeout(BgRemoverClientError):
    """:meth:`Client.wait` ran out of time; ``last`` is the last state seen (a Job or a Batch)."""

    def __init__(self, detail: str, last: object) -> None:
        super().__init__(detail, code="wait_timeout")
        self.last = last


class APIError(BgRemoverClientError):
    """The API answered with an error status and (usually) a problem+json body."""

    def __init__(
        self,
        detail: str,
        *,
        status: int,
        code: str,
        request_id: str | None = None,
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, status=status, code=code, request_id=request_id, problem=problem)
        self.retry_after = retry_after
        """Seconds the server asked to wait before retrying (``Retry-After``), when it said so."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Per-item problems (a rejected batch lists every bad image: index, filename, code, detail)."""
        value = self.problem.get("errors")
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


class AuthenticationError(APIError):
    """401: the bearer token is missing, expired, or signed with another secret."""


class PermissionDenied(APIError):
    """403: the token is valid but may not do this (e.g. granting credits without being in ADMIN_USERS)."""


class InsufficientCredits(APIError):
    """402: the balance does not cover the price; ``required`` and ``balance`` say by how much."""

    @property
    def required(self) -> int | None:
        """Credits the request costs."""
        return _int_or_none(self.problem.get("required"))

    @property
    def balance(self) -> int | None:
        """Credits the user had."""
        return _int_or_none(self.problem.get("balance"))


class NotFound(APIError):
    """404: no such job, batch or result for this user."""


class ResultNotReady(NotFound):
    """404 ``result_not_ready``: the job has no result yet (or failed; see ``job_status``)."""

    @property
    def job_status(self) -> str | None:
        value = self.problem.get("jobStatus")
        return value if isinstance(value, str) else None


class Conflict(APIError):
    """409: the request conflicts with the resource's current state."""


class JobNotCancellable(Conflict):
    """409 ``job_not_cancellable``: only a pending single job can be cancelled."""

    @property
    def job_status(self) -> str | None:
        value = self.problem.get("jobStatus")
        return value if isinstance(value, str) else None


class BatchNotFinished(Conflict):
    """409 ``batch_not_finished``: the ZIP exists once every image reached a final state."""


class AlreadySubscribed(Conflict):
    """409 ``already_subscribed``: cancel the active subscription before subscribing again."""


class IdempotencyInProgress(Conflict):
    """409 ``idempotency_in_progress``: the same ``Idempotency-Key`` is still being processed."""


class WebhookSecretMissing(Conflict):
    """409 ``webhook_secret_missing``: create a webhook signing secret before giving a ``webhook_url``."""


class InvalidRequest(APIError):
    """400/413/415/422: the request cannot be served as sent; retrying it unchanged will not help."""


class InvalidImage(InvalidRequest):
    """An uploaded image is unusable (format, size, resolution, corrupt pixels, no subject)."""


class InvalidOptions(InvalidRequest):
    """A field is wrong: output options, tier, webhook URL, batch size, idempotency key reuse."""


class RateLimited(APIError):
    """429: too many requests; ``retry_after`` says when to try again."""


class QuotaExceeded(RateLimited):
    """429 ``quota_exceeded``: the subscription's daily quota for this tier is used up."""


class ServiceUnavailable(APIError):
    """503: the service cannot work right now (database, schema, Redis, worker or model missing)."""

    @property
    def pending_migrations(self) -> list[str]:
        value = self.problem.get("pendingMigrations")
        return [str(v) for v in value] if isinstance(value, list) else []


class ServerError(APIError):
    """Any other 5xx: a bug or an outage; quote ``request_id`` when reporting it."""


_BY_CODE: dict[str, type[APIError]] = {
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDenied,
    "token_required": PermissionDenied,
    "insufficient_scope": PermissionDenied,
    "insufficient_credits": InsufficientCredits,
    "not_found": NotFound,
    "result_not_ready": ResultNotReady,
    "result_expired": NotFound,
    "conflict": Conflict,
    "job_not_cancellable": JobNotCancellable,
    "batch_not_finished": BatchNotFinished,
    "already_subscribed": AlreadySubscribed,
    "api_key_limit_reached": Conflict,
    "idempotency_in_progress": IdempotencyInProgress,
    "webhook_secret_missing": WebhookSecretMissing,
    "invalid_image": InvalidImage,
    "unsupported_media_type": InvalidImage,
    "file_too_large": InvalidImage,
    "payload_too_large": InvalidImage,
    "resolution_too_high": InvalidImage,
    "resolution_too_low": InvalidImage,
    "corrupt_image": InvalidImage,
    "no_subject_detected": InvalidImage,
    "image_url_refused": InvalidImage,
    "image_url_unreachable": InvalidImage,
    "image_url_too_large": InvalidImage,
    "missing_source": InvalidOptions,
    "invalid_options": InvalidOptions,
    "output_too_large": InvalidOptions,
    "invalid_webhook_url": InvalidOptions,
    "unknown_tier": InvalidOptions,
    "batch_too_large": InvalidOptions,
    "batch_too_small": InvalidOptions,
    "unknown_field": InvalidOptions,
    "form_field_too_large": InvalidOptions,
    "idempotency_key_reused": InvalidOptions,
    "validation_error": InvalidOptions,
    "bad_request": InvalidOptions,
    "unsupported_content_type": InvalidOptions,
    "rate_limited": RateLimited,
    "too_many_queued_images": RateLimited,
    "storage_quota_exceeded": RateLimited,
    "webhook_lookup_busy": RateLimited,
    "queue_full": ServiceUnavailable,
    "no_model_installed": ServiceUnavailable,
    "quota_exceeded": QuotaExceeded,
    "tier_unavailable": ServiceUnavailable,
    "database_unavailable": ServiceUnavailable,
    "storage_unavailable": ServiceUnavailable,
    "schema_not_ready": ServiceUnavailable,
    "model_error": ServiceUnavailable,
    "model_missing": ServiceUnavailable,
    "model_checksum_mismatch": ServiceUnavailable,
    "redis_unavailable": ServiceUnavailable,
    "no_worker": ServiceUnavailable,
    "service_unavailable": ServiceUnavailable,
    "too_many_connections": ServiceUnavailable,
    # a full disk is an outage to wait out, not a bug to report
    "insufficient_storage": ServiceUnavailable,
    # signed links: a forged one is refused, an expired one is gone (fetch the job again for a fresh link)
    "invalid_signature": PermissionDenied,
    "link_expired": NotFound,
    "internal_error": ServerError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: NotFound,
    429: RateLimited,
    503: ServiceUnavailable,
}

_DEFAULT_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    402: "insufficient_credits",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _class_for(status: int, code: str) -> type[APIError]:
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status in (413, 415):
        return InvalidImage
    if 400 <= status < 500:
        return InvalidRequest
    return ServiceUnavailable if status in (502, 504) else ServerError


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds form only; an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_problem(status: int, problem: Mapping[str, Any] | None, *, retry_after: float | None = None) -> APIError:
    """The typed error for an HTTP ``status`` and its problem+json body (``None`` or ``{}`` when absent)."""
    body: dict[str, Any] = dict(problem or {})
    raw_code = body.get("code")
    code = raw_code if isinstance(raw_code, str) and raw_code else _DEFAULT_CODES.get(status, f"http_{status}")
    raw_detail = body.get("detail") or body.get("title")
    detail = str(raw_detail) if raw_detail else f"HTTP {status}"
    raw_rid = body.get("requestId")
    request_id = str(raw_rid) if raw_rid else None
    return _class_for(status, code)(
        detail, status=status, code=code, request_id=request_id, problem=body, retry_after=retry_after
    )


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for an error response (reads its body: call after ``read()``/``aread()``)."""
    problem: dict[str, Any] = {}
    try:
        decoded = json.loads(response.content) if response.content else {}
        if isinstance(decoded, dict):
            problem = decoded
    except ValueError:
        text = response.text.strip()
        if text:
            problem = {"detail": text[:500]}
    error = error_from_problem(
        response.status_code, problem, retry_after=parse_retry_after(response.headers.get("retry-after"))
    )
    if error.request_id is None:
        error.request_id = response.headers.get("x-request-id")
    return error
