"""Python client of the bgremover API, blocking (:class:`Client`) and asyncio (:class:`AsyncClient`).

::

    from bgremover_client import Client

    with Client() as bg:                      # $BGREMOVER_URL, $BGREMOVER_TOKEN (or $BGREMOVER_API_KEY)
        job = bg.wait(bg.submit("quokka.jpg", tier="standard", format="webp"))
        bg.download_result(job, "cutouts/")

Errors are :class:`BgRemoverClientError` subclasses named after the API's problem codes (see
:mod:`bgremover_client._errors` for the tree). The command line is ``bgremover`` (or
``python -m bgremover_client``; :mod:`bgremover_client.cli`).
"""

from __future__ import annotations

from bgremover_client._async import AsyncClient
from bgremover_client._core import API_KEY_ENV, API_PREFIX, DEFAULT_URL, TOKEN_ENV, URL_ENV
from bgremover_client._errors import (
    AlreadySubscribed,
    APIError,
    AuthenticationError,
    BatchNotFinished,
    BgRemoverClientError,
    Conflict,
    IdempotencyInProgress,
    InsufficientCredits,
    InvalidImage,
    InvalidOptions,
    InvalidRequest,
    JobNotCancellable,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    ResultNotReady,
    ServerError,
    ServiceUnavailable,
    TransportError,
    WaitTimeout,
    WebhookSecretMissing,
    error_from_problem,
)
from bgremover_client._files import ImageSource, collect_images, extract_zip
from bgremover_client._models import (
    BATCH_FINAL_STATUSES,
    JOB_FINAL_STATUSES,
    ApiKey,
    Balance,
    Batch,
    BatchImage,
    Job,
    Limits,
    Page,
    Plan,
    Pricing,
    Readiness,
    Stats,
    Subscription,
    TierPrice,
    VolumeDiscount,
)
from bgremover_client._options import OutputOptions
from bgremover_client._sync import Client

__all__ = [
    "API_KEY_ENV",
    "API_PREFIX",
    "BATCH_FINAL_STATUSES",
    "DEFAULT_URL",
    "JOB_FINAL_STATUSES",
    "TOKEN_ENV",
    "URL_ENV",
    "APIError",
    "AlreadySubscribed",
    "ApiKey",
    "AsyncClient",
    "AuthenticationError",
    "Balance",
    "Batch",
    "BatchImage",
    "BatchNotFinished",
    "BgRemoverClientError",
    "Client",
    "Conflict",
    "IdempotencyInProgress",
    "ImageSource",
    "InsufficientCredits",
    "InvalidImage",
    "InvalidOptions",
    "InvalidRequest",
    "Job",
    "JobNotCancellable",
    "Limits",
    "NotFound",
    "OutputOptions",
    "Page",
    "PermissionDenied",
    "Plan",
    "Pricing",
    "QuotaExceeded",
    "RateLimited",
    "Readiness",
    "ResultNotReady",
    "ServerError",
    "ServiceUnavailable",
    "Stats",
    "Subscription",
    "TierPrice",
    "TransportError",
    "VolumeDiscount",
    "WaitTimeout",
    "WebhookSecretMissing",
    "collect_images",
    "error_from_problem",
    "extract_zip",
]
