"""Results and ZIPs behind signed links: no bearer token, the link's signature is the permission.

Mounted outside the authenticated router (``api.auth.PUBLIC_PATHS``) because ``<img src>`` and
``<a href download>`` cannot send a header. The signature names the object (its id is in the signed
path), so a link opens that one result until it expires; it is never a way into anything else.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.schema_gate import SchemaGate
from api.stored_files import stored_file
from api.web import openapi_examples as ex
from core.errors import NotFound, ResultExpired
from core.filenames import safe_stem
from core.signed_urls import UrlSigner, batch_zip_path, job_result_path
from core.statuses import JobStatus
from core.storage import Storage, result_media_type
from db import batches, jobs

Expires = Annotated[str | None, QueryParameter(max_length=20, description="unix seconds, as issued")]
Signature = Annotated[str | None, QueryParameter(max_length=100, description="as issued")]


def before_signed_request(gate: SchemaGate) -> Callable[[Request[Any, Any, Any]], Awaitable[None]]:
    """The signed routes' hook (their only check besides the signature): the schema must be current."""

    async def require_schema(_request: Request[Any, Any, Any]) -> None:
        await gate.require_ready()

    return require_schema


async def _file(
    storage: Storage, key: str, filename: str, media_type: str, expires: str, expired: str
) -> Response[Any]:
    # Private: a shared cache must not hand one user's cut-out to another; no longer than the link lives.
    max_age = max(0, math.floor(int(expires) - time.time()))
    return await stored_file(
        storage,
        key,
        filename=filename,
        media_type=media_type,
        expired=expired,
        headers={"Cache-Control": f"private, max-age={max_age}", "Referrer-Policy": "no-referrer"},
    )


class SignedFileController(Controller):
    path = "/signed"
    tags = ["signed links"]

    @get(
        "/jobs/{job_id:uuid}/result",
        operation_id="getSignedJobResult",
        summary="A job's result through its signed link (no bearer token)",
        media_type="application/octet-stream",
        responses=ex.SIGNED_RESULT_RESPONSES,
    )
    async def job_result(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[uuid.UUID],
        expires: Expires,
        signature: Signature,
        storage: NamedDependency[Storage],
        url_signer: NamedDependency[UrlSigner],
    ) -> Response[Any]:
        """The URL is a completed job's `links.download` as the API issued it; 403 `invalid_signature` when it
        was altered, 410 `link_expired` after `SIGNED_URL_TTL_S` (fetch the job again for a fresh link)."""
        url_signer.verify("GET", job_result_path(job_id), expires, signature)
        row = await jobs.get_job(job_id)
        if row is None or row.status is not JobStatus.COMPLETED:
            raise NotFound(f"No result for job {job_id}.", resource="job")
        expired = f"The result of job {job_id} was deleted after the retention period."
        if not row.output_key:
            raise ResultExpired(expired)
        extension = row.output_key.rsplit(".", 1)[-1]
        return await _file(
            storage,
            row.output_key,
            f"{safe_stem(row.original_filename, str(job_id))}.{extension}",
            result_media_type(row.output_key),
            str(expires),
            expired,
        )

    @get(
        "/batches/{batch_id:uuid}/zip",
        operation_id="getSignedBatchZip",
        summary="A batch's ZIP through its signed link (no bearer token)",
        media_type="application/zip",
        responses=ex.SIGNED_ZIP_RESPONSES,
    )
    async def batch_zip(
        self,
        request: Request[Any, Any, Any],
        batch_id: FromPath[uuid.UUID],
        expires: Expires,
        signature: Signature,
        storage: NamedDependency[Storage],
        url_signer: NamedDependency[UrlSigner],
    ) -> Response[Any]:
        """The URL is a finished batch's `links.download` (or `zipUrl`) as the API issued it."""
        url_signer.verify("GET", batch_zip_path(batch_id), expires, signature)
        row = await batches.get_batch_by_id(batch_id)
        if row is None or not row.zip_key:
            raise NotFound(f"No ZIP for batch {batch_id}.", resource="batch")
        return await _file(
            storage,
            row.zip_key,
            f"{row.public_id}.zip",
            "application/zip",
            str(expires),
            "The batch's ZIP was deleted after the retention period.",
        )
