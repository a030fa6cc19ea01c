"""``POST /v1.0/removebg`` and ``GET /v1.0/account``: remove.bg's API on top of the normal job path.

Thin on purpose: the request is translated into an ordinary single job (same ``Submissions`` service,
so the same validation, price of ``REMOVEBG_TIER``, ledger, subscription quota, queue and limits),
then the route waits for that job, bounded by ``REMOVEBG_WAIT_S``, and answers in remove.bg's shape.
"""

from __future__ import annotations

import base64
import io
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import HeaderParameter
from PIL import Image

from api.auth import Principal
from api.cancellation import cancel_pending_job
from api.job_wait import wait_until_final
from api.removebg import examples as ex
from api.removebg.body import read_request
from api.removebg.errors import error_for_code, removebg_error
from api.removebg.params import output_size, translate
from api.removebg.schemas import Account, AccountAttributes, AccountData, ApiInfo, Credits, ResultData, ResultEnvelope
from api.submissions import Submissions
from api.upload_forms import Payment, upload_route
from core.image_probe import probe
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
        opt=upload_route(Payment.SINGLE, "image_file_b64"),
        summary="remove.bg: remove a background",
        status_code=200,
        responses=ex.REMOVEBG_RESPONSES,
    )
    async def remove_background(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
    ) -> Response[Any]:
        """remove.bg's `POST /v1.0/removebg` with `X-Api-Key`: multipart (`image_file` or
        `image_file_b64`), a urlencoded form or JSON (`image_file_b64`), and remove.bg's option fields.
        Answers the image (headers `X-Credits-Charged`, `X-Width`, `X-Height`, `X-Type`, `X-Foreground-*`),
        or `{"data": {"result_b64", "foreground_*"}}` with `Accept: application/json`. Errors are
        `{"errors": [{"title", "code", "detail"}]}` (400 input, 402 credits, 403 key, 429 rate);
        504 `timeout` after `REMOVEBG_WAIT_S`. Mapping of every parameter: docs/compat.md."""
        settings: Settings = request.app.state.settings
        user_id = request.user.user_id
        key = check_key(idempotency_key) if idempotency_key is not None else None
        incoming = await read_request(request, settings.max_image_bytes)
        wanted = translate(incoming.params)
        info = probe(incoming.image, settings)
        fields = dict(wanted.options)
        size = output_size(info.width, info.height, wanted.megapixels)
        if size is not None:
            fields["size"] = str(size)
        order = await submissions.order(user_id, settings.removebg_tier, fields, None, images=1)
        upload = UploadFile(content_type=info.media_type, filename=incoming.filename, file_data=incoming.image)
        [stored] = await submissions.store(user_id, order, [upload])
        accepted = await submissions.accept_job(user_id, order, stored, key)
        if accepted.background is not None:
            await accepted.background()  # enqueue now: this request waits for the job
        job_id = uuid.UUID(str(accepted.content["id"]))
        row = await wait_until_final(request.app.state.final_signals, job_id, user_id, settings.removebg_wait_s)
        return await _answer(request, row, wanted.type)

    @get(
        "/account",
        operation_id="removebgAccount",
        summary="remove.bg: credits and free calls",
        responses=ex.ACCOUNT_RESPONSES,
    )
    async def account(self, request: Request[Principal, Any, Any]) -> Account:
        """remove.bg's `GET /v1.0/account`: `credits.total` and `credits.payg` are the credit balance
        (subscriptions here cover images, not credits: `subscription` is 0); `api.free_calls` is what the
        active subscription still covers today in the tier these routes use."""
        settings: Settings = request.app.state.settings
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


async def _answer(request: Request[Principal, Any, Any], row: JobRow, kind: str) -> Response[Any]:
    storage: Storage = request.app.state.storage
    if row.unfinished:
        return await _timed_out(request, row, storage)
    if row.status is not JobStatus.COMPLETED or row.output_key is None:
        detail = f"{row.error_message or row.status}; the credits were given back."
        return error_for_code(row.error_code or "processing_failed", 500, "Processing failed", detail)
    try:
        data = await storage.get(row.output_key)
    except FileNotFoundError:
        return removebg_error(410, "result_expired", "Result expired", "The result is no longer stored.")
    with Image.open(io.BytesIO(data)) as img:  # the header only: nothing is decoded
        width, height = img.size
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


async def _timed_out(request: Request[Principal, Any, Any], row: JobRow, storage: Storage) -> Response[Any]:
    """Never charged twice: a job still queued is cancelled and refunded; one a worker already has
    finishes, is charged once, and its result stays available on our own API."""
    settings: Settings = request.app.state.settings
    waited = f"{settings.removebg_wait_s:g} s"
    if await cancel_pending_job(row.id, row.user_id, storage, reason="remove.bg request timed out") is not None:
        detail = f"No worker took the image within {waited}; it was cancelled and nothing was charged. Retry later."
    else:
        detail = (
            f"The image was still being processed after {waited}. It was charged once and will finish: fetch it "
            f"with the same key from {API_PREFIX}/jobs/{row.id}/result instead of sending it again."
        )
    return removebg_error(504, "timeout", "Processing timed out", detail, {"Retry-After": "5", "X-Job-Id": str(row.id)})
