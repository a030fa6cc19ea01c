"""``POST /v1.0/removebg`` and ``GET /v1.0/account``: remove.bg's API on top of the normal job path.

Thin on purpose: the request is translated into an ordinary single job (same ``Submissions`` service,
so the same validation, price of ``REMOVEBG_TIER``, ledger, subscription quota, queue and limits),
then the route waits for that job, bounded by ``REMOVEBG_WAIT_S``, and answers in remove.bg's shape.
"""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from dataclasses import replace
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from PIL import Image

from api.auth import Principal
from api.cancellation import cancel_pending_job
from api.job_wait import CLIENT_GONE_STATUS, Waited, WaitEnd, cancel_abandoned, forget_body, wait_until_final
from api.removebg import examples as ex
from api.removebg.body import read_request
from api.removebg.errors import error_for_code, removebg_error
from api.removebg.params import Translation, output_size, translate
from api.removebg.schemas import Account, AccountAttributes, AccountData, ApiInfo, Credits, ResultData, ResultEnvelope
from api.services import Services
from api.submissions import Submissions
from api.upload_forms import Payment, upload_route
from api.wait_slots import SLOT_RETRY_AFTER_S, SlotRefusal
from core.image_probe import ImageInfo, probe
from core.rows import JobRow
from core.serialisers import API_PREFIX
from core.settings import Settings
from core.statuses import JobStatus
from core.storage import Storage, result_media_type
from db import credits, subscriptions
from db.idempotency import check_key

TAG = "remove.bg compatible"


class RemoveBgController(Controller):
    tags = [TAG]

    @post(
        "/removebg",
        operation_id="removebgRemoveBackground",
        opt=upload_route(
            Payment.SINGLE, "image_file_b64", also_takes=("application/x-www-form-urlencoded", "application/json")
        ),
        summary="remove.bg: remove a background",
        status_code=200,
        responses=ex.REMOVEBG_RESPONSES,
    )
    async def remove_background(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[Services],
        submissions: NamedDependency[Submissions],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
    ) -> Response[Any]:
        """remove.bg's `POST /v1.0/removebg` with `X-Api-Key`: multipart (`image_file` or
        `image_file_b64`), a urlencoded form or JSON (`image_file_b64`), and remove.bg's option fields.
        Answers the image (headers `X-Credits-Charged`, `X-Width`, `X-Height`, `X-Type`, `X-Foreground-*`),
        or `{"data": {"result_b64", "foreground_*"}}` with `Accept: application/json`. Errors are
        `{"errors": [{"title", "code", "detail"}]}` (400 input, 402 credits, 403 key, 429 rate, also at once
        when the account already has `MAX_WAITS_PER_USER` calls waiting); 504 `timeout` after
        `REMOVEBG_WAIT_S`; 503 when the server restarts. Mapping of every parameter: docs/compat.md."""
        async with services.wait_slots.slot(services.redis, request.user.user_id) as slot:
            if slot.refusal is not None:
                # nothing is stored or charged; the body is read and dropped as it comes, because a
                # client still sending it when the connection closes would never see the answer
                # (a multipart body was already read, bounded, by the upload-form hook)
                if request.is_connected:
                    async for _ in request.stream():
                        pass
                return _refused(slot.refusal)
            job_id, kind = await _submit(request, services.settings, submissions, idempotency_key)
            forget_body(request)
            waited = await wait_until_final(request, services, job_id, services.settings.removebg_wait_s)
        return await _answer(request, services, waited, kind)

    @get(
        "/account",
        operation_id="removebgAccount",
        summary="remove.bg: credits and free calls",
        responses=ex.ACCOUNT_RESPONSES,
    )
    async def account(self, request: Request[Principal, Any, Any], settings: NamedDependency[Settings]) -> Account:
        """remove.bg's `GET /v1.0/account`: `credits.total` and `credits.payg` are the credit balance
        (subscriptions here cover images, not credits: `subscription` is 0); `api.free_calls` is what the
        active subscription still covers today in the tier these routes use."""
        user_id = request.user.user_id
        balance = await credits.balance(user_id)
        sub = await subscriptions.get_subscription(user_id)
        free = 0
        if sub is not None and subscriptions.is_active(sub):
            tier = settings.removebg_tier
            free = max(0, sub.daily_quotas.get(tier, 0) - sub.usage_today.get(tier, 0))
        return Account(
            data=AccountData(
                attributes=AccountAttributes(
                    credits=Credits(total=balance, subscription=0, payg=balance, enterprise=0),
                    api=ApiInfo(free_calls=free, sizes="all"),
                )
            )
        )


async def _submit(
    request: Request[Principal, Any, Any], settings: Settings, submissions: Submissions, idempotency_key: str | None
) -> tuple[uuid.UUID, str]:
    """The job's id and the ``X-Type`` to answer: the upload and everything read from it end here."""
    user_id = request.user.user_id
    key = check_key(idempotency_key) if idempotency_key is not None else None
    incoming = await read_request(request, settings.max_image_bytes, settings.max_form_field_bytes)
    wanted = translate(incoming.params, bg_image=incoming.has_background_image)
    fields = dict(wanted.options)
    if incoming.image is not None:
        info = probe(incoming.image, settings)
        upload = UploadFile(content_type=info.media_type, filename=incoming.filename, file_data=incoming.image)
        order = await submissions.order(user_id, settings.removebg_tier, _sized(fields, info, wanted), None, images=1)
    else:
        # the output size depends on the image, which is only fetched once the caller is known to pay
        order = await submissions.order(user_id, settings.removebg_tier, fields, None, images=1)
        assert incoming.image_url is not None
        upload = await submissions.fetch_image(user_id, incoming.image_url, "image_url")
        data = await upload.read()
        await upload.seek(0)
        info = probe(data, settings)
        size = output_size(info.width, info.height, wanted.megapixels)
        if size is not None:
            order = replace(order, options=replace(order.options, size=size))
    try:
        order = await submissions.with_background(user_id, order, incoming.bg_image_file, incoming.bg_image_url)
        [stored] = await submissions.store(user_id, order, [upload])
    finally:
        await upload.close()
    accepted = await submissions.accept_job(user_id, order, stored, key)
    if accepted.enqueue is not None:
        await accepted.enqueue()  # enqueue now: this request waits for the job
    return uuid.UUID(accepted.id), wanted.type


def _sized(fields: dict[str, str], info: ImageInfo, wanted: Translation) -> dict[str, str]:
    """``fields`` with our ``size`` for remove.bg's ``size`` (a pixel budget) on this image."""
    size = output_size(info.width, info.height, wanted.megapixels)
    return fields if size is None else {**fields, "size": str(size)}


def _refused(refusal: SlotRefusal) -> Response[Any]:
    if refusal is SlotRefusal.STOPPING:
        return _stopping_error("The server is restarting; nothing was sent or charged. Retry in a moment.")
    whose = "this account's" if refusal is SlotRefusal.USER_FULL else "the server's"
    detail = (
        f"Too many requests waiting for their images ({whose} limit); nothing was charged. "
        f"Retry in {SLOT_RETRY_AFTER_S} s, or submit with POST {API_PREFIX}/jobs and poll."
    )
    headers = {"Retry-After": str(SLOT_RETRY_AFTER_S)}
    return removebg_error(429, "rate_limit_exceeded", "Rate limit exceeded", detail, headers)


def _stopping_error(detail: str, headers: dict[str, str] | None = None) -> Response[Any]:
    return removebg_error(
        503,
        "service_unavailable",
        "Service unavailable",
        detail,
        {"Retry-After": str(SLOT_RETRY_AFTER_S), **(headers or {})},
    )


async def _answer(
    request: Request[Principal, Any, Any], services: Services, waited: Waited[JobRow], kind: str
) -> Response[Any]:
    storage = services.storage
    row = waited.row
    if waited.end is WaitEnd.DISCONNECTED:
        await cancel_abandoned(services, waited, reason="remove.bg client went away")
        return Response(content=None, status_code=CLIENT_GONE_STATUS)
    if waited.end is WaitEnd.STOPPING:
        return await _stopped(request, row, storage)
    if waited.end is WaitEnd.TIMED_OUT:
        return await _timed_out(services, waited)
    if row.status is not JobStatus.COMPLETED or row.output_key is None:
        detail = f"{row.error_message or row.status}; the credits were given back."
        return error_for_code(row.error_code or "processing_failed", 500, "Processing failed", detail)
    try:
        data = await storage.get(row.output_key)
    except FileNotFoundError:
        return removebg_error(410, "result_expired", "Result expired", "The result is no longer stored.")
    width, height = _result_size(data, row.output_key)
    box = (row.foreground_left or 0, row.foreground_top or 0, row.foreground_width or 0, row.foreground_height or 0)
    headers = {
        "X-Credits-Charged": str(row.credits_charged),
        "X-Width": str(width),
        "X-Height": str(height),
        "X-Type": kind,
        "X-Foreground-Left": str(box[0]),
        "X-Foreground-Top": str(box[1]),
        "X-Foreground-Width": str(box[2]),
        "X-Foreground-Height": str(box[3]),
        "X-Job-Id": str(row.id),
    }
    if "application/json" in request.headers.get("accept", ""):
        body = ResultEnvelope(
            data=ResultData(
                result_b64=base64.b64encode(data).decode("ascii"),
                foreground_left=box[0],
                foreground_top=box[1],
                foreground_width=box[2],
                foreground_height=box[3],
            )
        )
        return Response(content=body, headers=headers, media_type="application/json")
    return Response(content=data, headers=headers, media_type=result_media_type(row.output_key))


def _result_size(data: bytes, key: str) -> tuple[int, int]:
    """The result's width and height from its header (nothing is decoded); a zip's from its ``alpha.png``."""
    if key.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read("alpha.png")
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    return width, height


def _still_processing(row: JobRow, when: str) -> str:
    return (
        f"The image was still being processed {when}. It was charged once and will finish: fetch it "
        f"with the same key from {API_PREFIX}/jobs/{row.id}/result instead of sending it again."
    )


async def _timed_out(services: Services, waited: Waited[JobRow]) -> Response[Any]:
    """Never charged twice: a job still queued is cancelled and refunded (the request still counts
    against the rate limit); one a worker already has finishes, is charged once, and its result stays
    available on our own API."""
    waited_for = f"{services.settings.removebg_wait_s:g} s"
    if await cancel_abandoned(services, waited, reason="remove.bg request timed out") is not None:
        detail = f"No worker took the image within {waited_for}; it was cancelled and nothing was charged. Retry later."
    else:
        detail = _still_processing(waited.row, f"after {waited_for}")
    headers = {"Retry-After": "5", "X-Job-Id": str(waited.row.id)}
    return removebg_error(504, "timeout", "Processing timed out", detail, headers)


async def _stopped(request: Request[Principal, Any, Any], row: JobRow, storage: Storage) -> Response[Any]:
    """The server is restarting: the wait ends at once; a job not started is refunded (our doing, so it
    does not count against the rate limit)."""
    if await cancel_pending_job(row.id, row.user_id, storage, reason="the server restarted") is not None:
        detail = "The server is restarting; the image was cancelled and nothing was charged. Retry in a moment."
    else:
        detail = _still_processing(row, "when the server began to restart")
    return _stopping_error(detail, {"X-Job-Id": str(row.id)})
