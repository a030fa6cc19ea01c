"""The routes only the original Lumiku clients call (the ones they share with ours live in our controllers).

Each is a translation: read the original's form or JSON, call what our own route calls (``Submissions``,
the subscription answers of ``api.controllers.billing``, ``core.pricing``), and answer in the original's
envelope. The decisions that are the adapter's own are in docs/compat.md: single removals wait for the
result (bounded by ``LUMIKU_WAIT_S``), one image sent as a batch is a batch of one, and a ``cancelled``
job or batch reads ``failed`` inside these envelopes.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, HeaderParameter

from api.auth import Principal
from api.controllers.billing import cancel_answer, subscribe_answer
from api.job_wait import CLIENT_GONE_STATUS, WaitEnd, cancel_abandoned, forget_body, wait_until_final
from api.lumiku import forms
from api.lumiku.views import (
    BatchEnvelope,
    BatchWithJobs,
    BatchWithJobsEnvelope,
    JobEnvelope,
    PricingQuery,
    PricingQuote,
    PricingQuoteEnvelope,
    ZipLink,
    batch_view,
    job_view,
)
from api.owned import own_batch, own_job
from api.problems import problem_response
from api.schemas import SubscribeIn, SubscriptionMessage
from api.services import Services
from api.submissions import Submissions, check_batch_size
from api.upload_forms import Payment, upload_route
from api.web import lumiku_examples as ex
from core.errors import ImageError, InvalidOptions, ResultExpired, ResultNotReady
from core.pricing import batch_price, tier_credits
from core.rows import JobRow
from core.serialisers import API_PREFIX, batch_out, job_out
from core.settings import Settings
from core.signed_urls import UrlSigner, batch_zip_path
from core.statuses import JobStatus
from core.storage import Storage
from db import jobs
from db.idempotency import check_key

TAG = "lumiku compatibility"
IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)]

# A job that fails because of its image is the client's problem (422); any other failure is ours (500),
# as the original answered every failure.
_IMAGE_ERROR_CODES = frozenset({ImageError.code, *(cls.code for cls in ImageError.__subclasses__())})


def _key(idempotency_key: str | None) -> str | None:
    return check_key(idempotency_key) if idempotency_key is not None else None


async def _remove(
    request: Request[Principal, Any, Any],
    services: Services,
    submissions: Submissions,
    form: forms.SingleForm,
    key: str | None,
) -> Response[Any]:
    async with services.wait_slots.slot(services.redis, request.user.user_id) as slot:
        job_id = await _submit(request, submissions, form, key)
        forget_body(request)
        if not slot.granted:  # no room to wait: the job is under way all the same, as after a long queue
            return _under_way(services, await own_job(job_id, request.user.user_id))
        waited = await wait_until_final(request, services, job_id, services.settings.lumiku_wait_s)
    row = waited.row
    if waited.end is WaitEnd.DISCONNECTED:
        await cancel_abandoned(services, waited, reason="the client went away")
        return Response(content=None, status_code=CLIENT_GONE_STATUS)
    if row.unfinished:  # timed out, or the server is restarting: the client polls the job
        return _under_way(services, row)
    job = job_view(job_out(row, services.url_signer))
    if row.status is JobStatus.COMPLETED:
        return Response(JobEnvelope(message="Background removed successfully", job=job), status_code=200)
    code = row.error_code or "processing_failed"
    return problem_response(
        request,
        status=422 if code in _IMAGE_ERROR_CODES else 500,
        code=code,
        title="Background removal failed",
        detail=row.error_message or "The image could not be processed; nothing was charged.",
        job=msgspec.to_builtins(job),
    )


async def _submit(
    request: Request[Principal, Any, Any], submissions: Submissions, form: forms.SingleForm, key: str | None
) -> uuid.UUID:
    """The job's id; the upload is closed (its buffer freed) whatever else still refers to it."""
    user_id = request.user.user_id
    try:
        order = await submissions.order(user_id, form.tier, {}, None, images=1)
        [upload] = await submissions.store(user_id, order, [form.image])
    finally:
        await form.image.close()
    accepted = await submissions.accept_job(user_id, order, upload, key)
    if accepted.enqueue is not None:
        await accepted.enqueue()  # enqueue now, not after the answer: the answer waits for the worker
    return uuid.UUID(accepted.id)


def _under_way(services: Services, row: JobRow) -> Response[Any]:
    location = f"{API_PREFIX}/jobs/{row.id}"
    job = job_view(job_out(row, services.url_signer))
    return Response(
        JobEnvelope(message=f"Background removal is still in progress; poll GET {location}", job=job),
        status_code=202,
        headers={"Location": location, "Retry-After": "1"},
    )


async def _batch(
    request: Request[Principal, Any, Any],
    url_signer: UrlSigner,
    submissions: Submissions,
    form: forms.BatchForm,
    key: str | None,
) -> Response[Any]:
    user_id = request.user.user_id
    # the original clients send one image as a batch too: it is a batch of one, paid like any batch
    check_batch_size(len(form.images), submissions.settings, minimum=1)
    order = await submissions.order(user_id, form.tier, {"name": form.name}, None, len(form.images), batch=True)
    uploads = await submissions.store(user_id, order, form.images)
    accepted = await submissions.accept_batch(user_id, order, uploads, key)
    row = await own_batch(accepted.id, user_id)
    body = BatchEnvelope(message="Batch processing started", batch=batch_view(batch_out(row, signer=url_signer)))
    return Response(body, status_code=200, headers=accepted.headers, background=accepted.enqueue)


class LumikuRemoveController(Controller):
    """Single images: the backend's ``POST /remove`` and the frontend's ``POST /remove-single``."""

    tags = [TAG]

    @post(
        "/remove",
        operation_id="lumikuRemove",
        opt=upload_route(Payment.SINGLE),
        status_code=200,
        summary="Remove a background and wait (original backend)",
        responses=ex.REMOVE_RESPONSES,
    )
    async def remove(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        services: NamedDependency[Services],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.REMOVE_FORM)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """Multipart `image` and `tier` (or `qualityTier`). Charged and queued like `POST /jobs`, then waits up
        to `LUMIKU_WAIT_S` for the result: 200 `{message, job}` once completed (`job.processedUrl` is a
        signed link), 202 with the job still under way after that, a problem with `error` if it failed."""
        form = forms.single_form(data, "POST /remove")
        return await _remove(request, services, submissions, form, _key(idempotency_key))

    @post(
        "/remove-single",
        operation_id="lumikuRemoveSingle",
        opt=upload_route(Payment.SINGLE),
        status_code=200,
        summary="Remove a background (original frontend)",
        responses=ex.REMOVE_RESPONSES,
    )
    async def remove_single(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        services: NamedDependency[Services],
        data: Annotated[
            dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.REMOVE_SINGLE_FORM)
        ],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """Multipart `image` and `qualityTier` (or `tier`); answers like `POST /remove`. The frontend puts the
        returned job in its list and never polls it, so the answer waits for the result too."""
        form = forms.single_form(data, "POST /remove-single")
        return await _remove(request, services, submissions, form, _key(idempotency_key))


class LumikuBatchController(Controller):
    """Batches: the backend's ``/batch`` routes and the frontend's ``POST /remove-batch``."""

    tags = [TAG]

    @post(
        "/batch",
        operation_id="lumikuBatch",
        opt=upload_route(Payment.BATCH),
        status_code=200,
        summary="Submit a batch (original backend)",
        responses=ex.BATCH_RESPONSES,
    )
    async def batch(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        url_signer: NamedDependency[UrlSigner],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.BATCH_FORM)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """Multipart `tier` and 1–500 files under keys starting `images[` (`images[0]`, `images[]`). Paid in
        credits with the volume discount, like `POST /batches`; answers `{message, batch}` at once."""
        form = forms.batch_form(data, "POST /batch")
        return await _batch(request, url_signer, submissions, form, _key(idempotency_key))

    @post(
        "/remove-batch",
        operation_id="lumikuRemoveBatch",
        opt=upload_route(Payment.BATCH),
        status_code=200,
        summary="Submit a batch (original frontend)",
        responses=ex.BATCH_RESPONSES,
    )
    async def remove_batch(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        url_signer: NamedDependency[UrlSigner],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.REMOVE_BATCH_FORM)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """Multipart `images` (repeated, 1–500), `qualityTier` (or `tier`) and optional `batchName`; answers
        `{message, batch}`, whose `batch.id` the frontend then polls at `GET /batches/{id}`."""
        form = forms.batch_form(data, "POST /remove-batch")
        return await _batch(request, url_signer, submissions, form, _key(idempotency_key))

    @get(
        "/batch/{batch_id:str}",
        operation_id="lumikuGetBatch",
        summary="A batch with its jobs (original backend)",
        responses=ex.GET_BATCH_RESPONSES,
    )
    async def get_batch(
        self, request: Request[Principal, Any, Any], batch_id: FromPath[str], url_signer: NamedDependency[UrlSigner]
    ) -> Response[BatchWithJobsEnvelope]:
        """`{batch: {…, jobs: [every image as a full job, by itemIndex]}}`; `batch_id` is either id."""
        row = await own_batch(batch_id, request.user.user_id)
        rows = await jobs.batch_jobs(row.id)
        batch = batch_view(batch_out(row, signer=url_signer))
        body = BatchWithJobs(**msgspec.structs.asdict(batch), jobs=[job_view(job_out(j, url_signer)) for j in rows])
        headers = {"Retry-After": "2"} if row.unfinished else {}
        return Response(BatchWithJobsEnvelope(batch=body), headers=headers)

    @get(
        "/batch/{batch_id:str}/download",
        operation_id="lumikuBatchZipLink",
        summary="A link to the batch's ZIP (original backend)",
        responses=ex.ZIP_LINK_RESPONSES,
    )
    async def zip_link(
        self,
        request: Request[Principal, Any, Any],
        batch_id: FromPath[str],
        storage: NamedDependency[Storage],
        url_signer: NamedDependency[UrlSigner],
    ) -> ZipLink:
        """`{zipUrl, zipSize}`: a signed link that needs no token (`<a href download>`); 404 `result_not_ready`
        until the ZIP exists, as the original answered."""
        row = await own_batch(batch_id, request.user.user_id)
        if row.unfinished or not row.zip_key:
            reason = f"is still {row.status}" if row.unfinished else "has no succeeded image"
            raise ResultNotReady(f"ZIP file not yet generated: batch {row.public_id} {reason}.")
        size = await storage.size(row.zip_key)
        if size is None:
            raise ResultExpired("The batch's ZIP was deleted after the retention period.")
        signer = url_signer
        return ZipLink(zip_url=signer.sign(batch_zip_path(row.id)), zip_size=size)


class LumikuAccountController(Controller):
    """The frontend's subscription verbs and the backend's price calculator."""

    tags = [TAG]

    @post(
        "/subscription/subscribe",
        operation_id="lumikuSubscribe",
        status_code=201,
        summary="Subscribe, paid in credits (original frontend)",
        responses=ex.SUBSCRIBE_RESPONSES,
    )
    async def subscribe(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[SubscribeIn, Body(media_type=RequestEncodingType.JSON, examples=ex.SUBSCRIBE_FORM)],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        """`{"plan": "starter"}`: exactly `POST /subscription` (charged in credits, 402 without enough)."""
        return await subscribe_answer(request, settings, data, idempotency_key)

    @post(
        "/subscription/cancel",
        operation_id="lumikuCancelSubscription",
        status_code=200,
        summary="Cancel the subscription (original frontend)",
        responses=ex.CANCEL_RESPONSES,
    )
    async def cancel(self, request: Request[Principal, Any, Any]) -> SubscriptionMessage:
        """No body; exactly `DELETE /subscription`."""
        return await cancel_answer(request.user)

    @post(
        "/pricing/calculate",
        operation_id="lumikuCalculatePrice",
        status_code=200,
        summary="The price of a batch (original backend)",
        responses=ex.CALCULATE_RESPONSES,
    )
    async def calculate(
        self,
        request: Request[Principal, Any, Any],
        settings: NamedDependency[Settings],
        data: Annotated[PricingQuery, Body(media_type=RequestEncodingType.JSON, examples=ex.CALCULATE_FORM)],
    ) -> PricingQuoteEnvelope:
        """`{"totalImages", "tier"}` → what a batch of that many images costs in credits, with the volume
        discount, as `POST /batches` would charge it."""
        most = settings.batch_max_images
        if not 1 <= data.total_images <= most:
            raise InvalidOptions(f"totalImages must be between 1 and {most}", parameter="totalImages")
        unit = tier_credits(data.tier)
        price = batch_price(unit, data.total_images)
        discount = price.before_discount - price.total
        return PricingQuoteEnvelope(
            pricing=PricingQuote(
                total_images=data.total_images,
                tier=data.tier,
                credit_per_image=unit,
                original_price=price.before_discount,
                discount_percentage=price.discount_percent,
                discount_amount=discount,
                final_price=price.total,
                savings=discount,
            )
        )
