"""The service's domain errors: one root, each with a stable ``code`` and an HTTP status.

The API turns any :class:`BgRemoverError` into an RFC 9457 problem+json response carrying
``code``; the worker stores ``code`` and the message on a failed job. The tree::

    BgRemoverError
    ├── ImageError                    the upload itself is unusable (never retried, never charged)
    │   ├── UnsupportedMediaType      415 unsupported_media_type
    │   ├── FileTooLarge              413 file_too_large
    │   ├── ResolutionTooHigh         422 resolution_too_high
    │   ├── ResolutionTooLow          422 resolution_too_low
    │   ├── CorruptImage              422 corrupt_image
    │   └── NoSubjectDetected         422 no_subject_detected
    ├── InvalidOptions                422 invalid_options
    │   ├── OutputTooLarge            422 output_too_large
    │   └── MissingSource             422 missing_source
    ├── InvalidWebhookUrl             422 invalid_webhook_url
    ├── WebhookLookupBusy             429 webhook_lookup_busy
    ├── ImageUrlRefused               422 image_url_refused
    ├── ImageUrlUnreachable           422 image_url_unreachable
    ├── ImageUrlTooLarge              413 image_url_too_large
    ├── FormFieldTooLarge             413 form_field_too_large
    ├── UnsupportedContentType        415 unsupported_content_type
    ├── TierUnavailable               503 tier_unavailable
    ├── UnknownTier                   422 unknown_tier
    ├── NotFound                      404 not_found
    ├── InsufficientCredits           402 insufficient_credits
    ├── QuotaExceeded                 429 quota_exceeded
    ├── RateLimited                   429 rate_limited
    ├── TooManyQueued                 429 too_many_queued_images
    ├── StorageQuotaExceeded          429 storage_quota_exceeded
    ├── QueueFull                     503 queue_full
    ├── BatchSizeError                422 batch_too_large
    │   └── BatchTooSmall             422 batch_too_small
    ├── Conflict                      409 conflict
    │   ├── JobNotCancellable         409 job_not_cancellable
    │   ├── BatchNotFinished          409 batch_not_finished
    │   ├── AlreadySubscribed         409 already_subscribed
    │   ├── ApiKeyLimitReached        409 api_key_limit_reached
    │   ├── IdempotencyInProgress     409 idempotency_in_progress
    │   └── WebhookSecretMissing      409 webhook_secret_missing
    ├── IdempotencyKeyReused          422 idempotency_key_reused
    ├── ResultNotReady                404 result_not_ready
    ├── ResultExpired                 410 result_expired
    ├── InvalidSignature              403 invalid_signature
    ├── TokenRequired                 403 token_required
    ├── ApiKeyScopeTooNarrow          403 insufficient_scope
    ├── LinkExpired                   410 link_expired
    ├── UnknownField                  422 unknown_field
    ├── DatabaseUnavailable           503 database_unavailable
    ├── SchemaNotReady                503 schema_not_ready
    ├── InsufficientStorage           507 insufficient_storage
    ├── StorageUnavailable            503 storage_unavailable
    ├── TooManyConnections            503 too_many_connections
    └── ModelError                    the model cache is incomplete or corrupt
        ├── ModelMissing              503 model_missing
        └── ModelChecksumMismatch     503 model_checksum_mismatch
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class BgRemoverError(Exception):
    """Root of every error the service raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ImageError(BgRemoverError):
    """The uploaded bytes cannot be processed; retrying will not help."""

    code = "invalid_image"
    status = 422
    title = "Invalid image"


class UnsupportedMediaType(ImageError):
    """The bytes are not JPEG, PNG or WebP (sniffed, whatever the name or content type says)."""

    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


class UnsupportedContentType(BgRemoverError):
    """The request's ``Content-Type`` is not one the route reads (an upload route takes
    ``multipart/form-data``); refused before a byte of the body is read."""

    code = "unsupported_content_type"
    status = 415
    title = "Unsupported Content-Type"


class FileTooLarge(ImageError):
    """The upload is larger than ``max_image_bytes``."""

    code = "file_too_large"
    status = 413
    title = "File too large"


class ResolutionTooHigh(ImageError):
    """The header announces more pixels than ``max_megapixels`` (checked before decoding)."""

    code = "resolution_too_high"
    status = 422
    title = "Resolution too high"


class ResolutionTooLow(ImageError):
    """A side is shorter than ``min_side``."""

    code = "resolution_too_low"
    status = 422
    title = "Resolution too low"


class CorruptImage(ImageError):
    """The header looked right but the pixels could not be decoded."""

    code = "corrupt_image"
    status = 422
    title = "Corrupt image"


class NoSubjectDetected(ImageError):
    """The model found no foreground in the image."""

    code = "no_subject_detected"
    status = 422
    title = "No subject detected"


class InvalidOptions(BgRemoverError):
    """An output option (format, channels, bg_color, crop, size) is malformed or inconsistent."""

    code = "invalid_options"
    status = 422
    title = "Invalid output options"


class OutputTooLarge(InvalidOptions):
    """The requested output format cannot hold an image that large (WebP: 16,383 px a side)."""

    code = "output_too_large"
    title = "Output too large for its format"


class MissingSource(InvalidOptions):
    """No image in the request, or two: one file part or one ``image_url`` is needed."""

    code = "missing_source"
    title = "No image given"


class InvalidWebhookUrl(BgRemoverError):
    """The webhook URL is malformed, cannot be resolved, or points at a private or local address."""

    code = "invalid_webhook_url"
    status = 422
    title = "Invalid webhook URL"


class WebhookLookupBusy(BgRemoverError):
    """The caller already has a webhook host name lookup in flight (or every lookup thread is busy)."""

    code = "webhook_lookup_busy"
    status = 429
    title = "Too Many Requests"


class FormFieldTooLarge(BgRemoverError):
    """A text part of a multipart form is longer than ``max_form_field_bytes``; refused while parsing."""

    code = "form_field_too_large"
    status = 413
    title = "Form field too large"


class UnknownTier(BgRemoverError):
    """The tier name is not one of the configured tiers, or none was sent. One message wherever it is
    raised; ``source`` names where the tier came from when that is not the request's ``tier`` field
    (a setting, such as ``REMOVEBG_TIER``)."""

    code = "unknown_tier"
    status = 422
    title = "Unknown tier"

    def __init__(self, tier: str | None, tiers: Sequence[str], *, source: str = "tier") -> None:
        choices = ", ".join(tiers)
        if tier is None:
            detail = f"Send `{source}`: one of {choices}"
        else:
            detail = f"Unknown tier {tier!r} in `{source}`; choose one of {choices}"
        super().__init__(detail, tier=tier, tiers=list(tiers))


class TierUnavailable(BgRemoverError):
    """The tier exists but its model is not installed on this deployment."""

    code = "tier_unavailable"
    status = 503
    title = "Tier unavailable"


class NotFound(BgRemoverError):
    """No such resource for this user (another user's ids are not found either)."""

    code = "not_found"
    status = 404
    title = "Not Found"


class InsufficientCredits(BgRemoverError):
    """The user's ledger balance does not cover the price."""

    code = "insufficient_credits"
    status = 402
    title = "Insufficient credits"


class QuotaExceeded(BgRemoverError):
    """A subscription quota is used up."""

    code = "quota_exceeded"
    status = 429
    title = "Quota exceeded"


class RateLimited(BgRemoverError):
    """The user sent requests faster than their rate limit; ``Retry-After`` says when to try again."""

    code = "rate_limited"
    status = 429
    title = "Too Many Requests"


class TooManyQueued(BgRemoverError):
    """The user already has the maximum number of images waiting or in progress."""

    code = "too_many_queued_images"
    status = 429
    title = "Too Many Requests"


class StorageQuotaExceeded(BgRemoverError):
    """The user's uploads waiting to be processed already take as many bytes as one user may store."""

    code = "storage_quota_exceeded"
    status = 429
    title = "Too Many Requests"


class QueueFull(BgRemoverError):
    """The queue is deeper than the service can finish in reasonable time; retry later."""

    code = "queue_full"
    status = 503
    title = "Service Unavailable"


class BatchSizeError(BgRemoverError):
    """A batch has fewer or more images than allowed."""

    code = "batch_too_large"
    status = 422
    title = "Invalid batch size"


class BatchTooSmall(BatchSizeError):
    """A batch has fewer images than allowed (one image is a single job)."""

    code = "batch_too_small"


class Conflict(BgRemoverError):
    """The request conflicts with the resource's current state."""

    code = "conflict"
    status = 409
    title = "Conflict"


class JobNotCancellable(Conflict):
    """Only a job that no worker has started yet can be cancelled."""

    code = "job_not_cancellable"


class BatchNotFinished(Conflict):
    """The batch's ZIP exists only once every image reached a final state."""

    code = "batch_not_finished"


class AlreadySubscribed(Conflict):
    """The user already has an active subscription."""

    code = "already_subscribed"


class ApiKeyLimitReached(Conflict):
    """The user already has as many active API keys as allowed (``MAX_API_KEYS_PER_USER``)."""

    code = "api_key_limit_reached"


class IdempotencyInProgress(Conflict):
    """A request with the same ``Idempotency-Key`` is still being processed."""

    code = "idempotency_in_progress"


class WebhookSecretMissing(Conflict):
    """A ``webhook_url`` was given before the user created a signing secret to verify deliveries with."""

    code = "webhook_secret_missing"


class IdempotencyKeyReused(BgRemoverError):
    """The ``Idempotency-Key`` was already used for a different request body."""

    code = "idempotency_key_reused"
    status = 422
    title = "Idempotency key reused"


class ResultNotReady(BgRemoverError):
    """The job exists but has no result (yet, or because it failed)."""

    code = "result_not_ready"
    status = 404
    title = "Result not ready"


class ResultExpired(BgRemoverError):
    """The result existed but was deleted after the retention period."""

    code = "result_expired"
    status = 410
    title = "Gone"


class InvalidSignature(BgRemoverError):
    """A signed link whose signature is missing or does not match its path and expiry."""

    code = "invalid_signature"
    status = 403
    title = "Forbidden"


class TokenRequired(BgRemoverError):
    """The route moves money, grants plans or makes credentials: an API key (which never expires) is
    refused there, whatever its scope; only a short-lived bearer token will do."""

    code = "token_required"
    status = 403
    title = "Bearer token required"


class ApiKeyScopeTooNarrow(BgRemoverError):
    """The API key's scope does not cover this action (rotating the webhook secret, revoking another
    key); a key with the ``manage`` scope, or a bearer token, can do it."""

    code = "insufficient_scope"
    status = 403
    title = "Insufficient scope"


class LinkExpired(BgRemoverError):
    """A signed link that was genuine but whose expiry has passed: ask the API for a fresh one."""

    code = "link_expired"
    status = 410
    title = "Gone"


class UnknownField(BgRemoverError):
    """A form field the route does not take: refused rather than ignored, so that a misspelt or foreign
    option (``qualityTier`` for ``tier``) never silently runs as the default."""

    code = "unknown_field"
    status = 422
    title = "Unknown field"


class DatabaseUnavailable(BgRemoverError):
    """PostgreSQL cannot be reached or answered with a connection-level error."""

    code = "database_unavailable"
    status = 503
    title = "Service Unavailable"


class SchemaNotReady(BgRemoverError):
    """Migrations are pending or a table is missing: the service refuses to serve."""

    code = "schema_not_ready"
    status = 503
    title = "Service Unavailable"


class InsufficientStorage(BgRemoverError):
    """The storage volume is full (ENOSPC, EDQUOT): nothing was accepted or charged; an operator must
    free space."""

    code = "insufficient_storage"
    status = 507
    title = "Insufficient Storage"


class StorageUnavailable(BgRemoverError):
    """The object store did not answer or refused (``core.storage.StorageError``): nothing was accepted
    or charged; retry in a few seconds."""

    code = "storage_unavailable"
    status = 503
    title = "Service Unavailable"


class TooManyConnections(BgRemoverError):
    """The API process already holds ``MAX_CONNECTIONS`` connections: answered at once, then closed."""

    code = "too_many_connections"
    status = 503
    title = "Service Unavailable"


class ModelError(BgRemoverError):
    """The local model cache cannot serve a model."""

    code = "model_error"
    status = 503
    title = "Model unavailable"


class ModelMissing(ModelError):
    """A model file is not in the cache; ``make models`` installs it."""

    code = "model_missing"


class ModelChecksumMismatch(ModelError):
    """A cached model file does not match the manifest's sha256."""

    code = "model_checksum_mismatch"


class ImageUrlRefused(BgRemoverError):
    """An ``image_url`` / ``bg_image_url`` the service will not fetch: not http(s), a port not allowed,
    credentials in it, a private or local address, or a redirect to one (or too many redirects)."""

    code = "image_url_refused"
    status = 422
    title = "Image URL refused"


class ImageUrlUnreachable(BgRemoverError):
    """The image URL could not be fetched: its host does not resolve or answer, it answered an error,
    or it did not finish in time."""

    code = "image_url_unreachable"
    status = 422
    title = "Image URL unreachable"


class ImageUrlTooLarge(BgRemoverError):
    """The image at the URL is larger than ``MAX_IMAGE_BYTES`` (seen from its headers or while it arrives)."""

    code = "image_url_too_large"
    status = 413
    title = "Image at URL too large"
