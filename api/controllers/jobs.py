"""Single background-removal jobs: submit, list, poll, fetch the result, cancel."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, get_type_hints

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, HeaderParameter, QueryParameter

from api.auth import Principal
from api.cancellation import cancel_pending_job
from api.form_fields import JOB_FIELDS, refuse_unknown
from api.job_wait import MAX_WAIT_S, long_poll, wait_until_final
from api.lumiku.views import JobDetail, JobList, job_detail, with_original_names
from api.owned import own_job
from api.services import Services
from api.stored_files import stored_file
from api.submissions import Submissions
from api.upload_forms import Payment, upload_route
from api.web import openapi_examples as ex
from core.errors import JobNotCancellable, MissingSource, ResultExpired, ResultNotReady
from core.filenames import safe_stem
from core.final_channel import signal_final
from core.options import OPTION_KEYS
from core.serialisers import JobOut, job_out
from core.signed_urls import UrlSigner
from core.statuses import UNFINISHED, JobStatus
from core.storage import Storage, result_media_type
from db import jobs
from db.idempotency import check_key

log = logging.getLogger("bgremover.api")


@dataclass
class JobForm:
    """Multipart form of ``POST /jobs``. Output options are optional strings, as in ``core.options``."""

    image: UploadFile | None = None
    image_url: str | None = None
    tier: str = "basic"
    format: str | None = None
    channels: str | None = None
    bg_color: str | None = None
    bg_image_file: UploadFile | None = None
    bg_image_url: str | None = None
    crop: str | None = None
    crop_margin: str | None = None
    size: str | None = None
    roi: str | None = None
    scale: str | None = None
    position: str | None = None
    add_shadow: str | None = None
    semitransparency: str | None = None
    type: str | None = None
    webhook_url: str | None = None

    def options(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in OPTION_KEYS}


# Litestar reads a form model's type hints on every request; with ``from __future__ import annotations``
# each read compiled the nine annotation strings again. Resolved once, they are types already.
JobForm.__annotations__ = get_type_hints(JobForm)


def _etag(body: JobDetail) -> str:
    return '"' + hashlib.sha256(msgspec.json.encode(body)).hexdigest()[:32] + '"'


def _poll_headers(status: str, *, waited: bool) -> dict[str, str]:
    # after a long poll that ran out, asking again at once loses nothing and costs one request
    return {"Retry-After": "0" if waited else "1"} if status in UNFINISHED else {}


WAIT_PARAMETER = QueryParameter(
    ge=0,
    le=MAX_WAIT_S,
    description=(
        f"Long poll: hold the answer up to this many seconds (0–{MAX_WAIT_S:g}) until the job is final; "
        "it is answered as soon as the worker finishes, or at the deadline with the current state."
    ),
)


async def announce_final(services: Services, kind: str, object_id: uuid.UUID) -> None:
    """Wake this job's long polls (in every API process); without it they notice at their next re-read."""
    try:
        await signal_final(services.redis, services.settings.queue_name, kind, object_id)
    except Exception as exc:
        log.warning("%s %s: could not announce its end: %r", kind, object_id, exc)


class JobController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @post(
        "/",
        operation_id="createJob",
        opt=upload_route(Payment.SINGLE),
        summary="Submit one image",
        status_code=202,
        responses=ex.CREATE_JOB_RESPONSES,
    )
    async def create_job(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        data: Annotated[JobForm, Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.JOB_FORM_EXAMPLES)],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
    ) -> Response[Any]:
        """Upload `image` (JPEG, PNG or WebP), or name it with `image_url`, with a `tier` and output
        options: `format` (png, webp, jpg, zip), `channels`, `bg_color` or a background image
        (`bg_image_file` or `bg_image_url`), `crop`, `crop_margin`, `size`, `roi`, `scale`, `position`,
        `add_shadow`, `semitransparency`, `type` (docs/api.md). URLs are fetched by the server from
        public addresses only.

        Answers 202 with the job and a `Location` to poll. The price (or one image of the
        subscription's daily quota) is taken now and given back if the job finally fails. A form field
        this route does not take (`qualityTier`, `bgColor`, …) is 422 `unknown_field`, never ignored.
        """
        refuse_unknown((await request.form()).keys(), JOB_FIELDS, route="POST /jobs")
        key = check_key(idempotency_key) if idempotency_key is not None else None
        user_id = request.user.user_id
        image_url = (data.image_url or "").strip()
        if (data.image is None) == (not image_url):
            raise MissingSource("Send one image: `image` (a file part) or `image_url`.", parameter="image")
        order = await submissions.order(user_id, data.tier, data.options(), data.webhook_url, images=1)
        image = data.image or await submissions.fetch_image(user_id, image_url, "image_url")
        order = await submissions.with_background(user_id, order, data.bg_image_file, data.bg_image_url)
        [upload] = await submissions.store(user_id, order, [image])
        return (await submissions.accept_job(user_id, order, upload, key)).response()

    @get(
        "/", operation_id="listJobs", summary="The caller's single jobs, newest first", responses=ex.LIST_JOBS_RESPONSES
    )
    async def list_jobs(
        self,
        request: Request[Principal, Any, Any],
        url_signer: NamedDependency[UrlSigner],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="page size (1–100)")] = 20,
        cursor: Annotated[
            str | None, QueryParameter(max_length=200, description="`nextCursor` of the previous page")
        ] = None,
    ) -> JobList:
        """Keyset pagination: pass `nextCursor` back as `cursor` until it is null. Batch images are listed
        under their batch, not here."""
        rows, next_cursor = await jobs.list_single_jobs(request.user.user_id, limit=limit, cursor=cursor)
        # a route the original Lumiku clients share: its jobs carry their names too
        named = [with_original_names(job_out(r, url_signer)) for r in rows]
        return JobList(jobs=named, next_cursor=next_cursor, limit=limit)

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="A job's status, progress, error and links",
        responses=ex.GET_JOB_RESPONSES,
    )
    async def get_job(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[Services],
        job_id: FromPath[uuid.UUID],
        wait: Annotated[float, WAIT_PARAMETER] = 0,
    ) -> Response[Any]:
        """With `wait=N` (long poll, up to 30 s) the answer comes as soon as the job is final, or after N
        seconds with its current state: one request per job instead of one per second, and no polling
        delay. Without it, send the `ETag` back as `If-None-Match` to get `304 Not Modified` while nothing
        changed; `Retry-After` suggests when to ask again while the job is pending or processing (0 after
        a long poll). The same job is also under `job`, the envelope the original Lumiku backend answered."""
        user_id = request.user.user_id
        final = await long_poll(services, user_id, wait, lambda: wait_until_final(request, services, job_id, wait))
        waited = final is not None
        row = final if final is not None else await own_job(job_id, user_id)
        body = job_detail(job_out(row, services.url_signer))
        etag = _etag(body)
        headers = {"ETag": etag, "Cache-Control": "no-cache", **_poll_headers(row.status, waited=waited)}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(content=None, status_code=304, headers=headers)
        return Response(content=body, headers=headers)

    @get(
        "/{job_id:uuid}/result",
        operation_id="getJobResult",
        summary="The result image",
        media_type="application/octet-stream",
        responses=ex.JOB_RESULT_RESPONSES,
    )
    async def get_result(
        self, request: Request[Principal, Any, Any], job_id: FromPath[uuid.UUID], storage: NamedDependency[Storage]
    ) -> Response[Any]:
        """The cut-out (PNG by default, as the job's `format` and `channels` asked); 404
        `result_not_ready` until the job completed."""
        row = await own_job(job_id, request.user.user_id)
        expired = f"The result of job {job_id} was deleted after the retention period."
        if row.status is JobStatus.COMPLETED and not row.output_key:
            raise ResultExpired(expired)
        if row.status is not JobStatus.COMPLETED or row.output_key is None:
            raise ResultNotReady(
                f"Job {job_id} is {row.status}; the result exists once it is completed.",
                jobStatus=row.status,
                retry_after=1 if row.unfinished else None,
            )
        extension = row.output_key.rsplit(".", 1)[-1]
        return await stored_file(
            storage,
            row.output_key,
            filename=f"{safe_stem(row.original_filename, str(job_id))}.{extension}",
            media_type=result_media_type(row.output_key),
            expired=expired,
            disposition="inline",
        )

    @delete(
        "/{job_id:uuid}",
        operation_id="cancelJob",
        summary="Cancel a job that has not started",
        status_code=200,
        responses=ex.CANCEL_JOB_RESPONSES,
    )
    async def cancel_job(
        self, request: Request[Principal, Any, Any], job_id: FromPath[uuid.UUID], services: NamedDependency[Services]
    ) -> JobOut:
        """Only a pending single job can be cancelled; its credits (or quota) are given back at once."""
        user_id = request.user.user_id
        existing = await own_job(job_id, user_id)
        if existing.batch_id is not None:
            raise JobNotCancellable("Images of a batch cannot be cancelled one by one.", jobStatus=existing.status)
        row = await cancel_pending_job(job_id, user_id, services.storage)
        if row is not None:
            await announce_final(services, "job", job_id)
        if row is None:
            current = await own_job(job_id, user_id)
            raise JobNotCancellable(
                f"Job {job_id} is {current.status}; only a pending job can be cancelled.",
                jobStatus=current.status,
            )
        return job_out(row)
