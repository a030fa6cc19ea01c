"""Batches of 2–500 images: submit, list, follow progress per image, download the ZIP."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, HeaderParameter, QueryParameter

from api.auth import Principal
from api.form_fields import BATCH_FIELDS, refuse_unknown
from api.job_wait import MAX_WAIT_S, long_poll, wait_until_batch_final
from api.lumiku.views import BatchDetail, batch_detail
from api.owned import own_batch
from api.schemas import BatchList
from api.services import Services
from api.stored_files import stored_file
from api.submissions import Submissions, check_batch_size, form_fields
from api.upload_forms import Payment, upload_route
from api.web import openapi_examples as ex
from core.errors import BatchNotFinished, InvalidOptions, ResultNotReady
from core.serialisers import batch_out
from core.signed_urls import UrlSigner
from core.storage import Storage
from db import batches
from db.idempotency import check_key
from db.jobs import decode_cursor, encode_cursor

_FILE_FIELDS = ("images", "images[]")


def _files(form: dict[str, Any]) -> list[UploadFile]:
    files: list[UploadFile] = []
    for name in _FILE_FIELDS:
        value = form.get(name)
        if isinstance(value, UploadFile):
            files.append(value)
        elif isinstance(value, list):
            files.extend(v for v in value if isinstance(v, UploadFile))
    for name, value in form.items():
        items = value if isinstance(value, list) else [value]
        if name not in _FILE_FIELDS and name != "bg_image_file" and any(isinstance(i, UploadFile) for i in items):
            raise InvalidOptions(f"images must be sent as `images[]`, not as {name!r}", parameter=name)
    return files


BATCH_WAIT_PARAMETER = QueryParameter(
    ge=0,
    le=MAX_WAIT_S,
    description=f"Long poll: hold the answer up to this many seconds (0–{MAX_WAIT_S:g}) until the batch is final.",
)


class BatchController(Controller):
    path = "/batches"
    tags = ["batches"]

    @post(
        "/",
        operation_id="createBatch",
        opt=upload_route(Payment.BATCH),
        summary="Submit 2–500 images as one batch",
        status_code=202,
        responses=ex.CREATE_BATCH_RESPONSES,
    )
    async def create_batch(
        self,
        request: Request[Principal, Any, Any],
        submissions: NamedDependency[Submissions],
        data: Annotated[
            dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART, examples=ex.BATCH_FORM_EXAMPLES)
        ],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
    ) -> Response[Any]:
        """Multipart: `images[]` repeated (2–500 JPEG/PNG/WebP files), `tier`, output options
        (`format`, `channels`, `bg_color`, `crop`, `crop_margin`, `size`, `roi`, `scale`, `position`,
        `add_shadow`, `semitransparency`, `type`), optionally one background image for every image
        (`bg_image_file` or `bg_image_url`), optional `webhook_url` and `name` (a label of up to 255
        characters, shown back as `name`); any other field is 422 `unknown_field`.

        Every image is validated first: one bad image rejects the batch with every problem listed
        and nothing charged. The batch is paid in credits with the volume discount; each image that
        finally fails is refunded.
        """
        settings = submissions.settings
        refuse_unknown(data.keys(), BATCH_FIELDS, route="POST /batches")
        fields = form_fields(data)
        files = _files(data)
        check_batch_size(len(files), settings)
        key = check_key(idempotency_key) if idempotency_key is not None else None
        tier = fields.get("tier", "basic")
        user_id = request.user.user_id
        order = await submissions.order(user_id, tier, fields, fields.get("webhook_url"), len(files))
        background = data.get("bg_image_file")
        if background is not None and not isinstance(background, UploadFile):
            raise InvalidOptions("bg_image_file must be one file part", parameter="bg_image_file")
        order = await submissions.with_background(user_id, order, background, fields.get("bg_image_url"))
        uploads = await submissions.store(user_id, order, files)
        return (await submissions.accept_batch(request.user.user_id, order, uploads, key)).response()

    @get(
        "/",
        operation_id="listBatches",
        summary="The caller's batches, newest first",
        responses=ex.LIST_BATCHES_RESPONSES,
    )
    async def list_batches(
        self,
        request: Request[Principal, Any, Any],
        url_signer: NamedDependency[UrlSigner],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> BatchList:
        """Keyset pagination like `GET /jobs`."""
        before = decode_cursor(cursor) if cursor else None
        rows, nxt = await batches.list_batches(request.user.user_id, limit=limit, before=before)
        return BatchList(
            batches=[batch_out(r, signer=url_signer) for r in rows],
            next_cursor=encode_cursor(*nxt) if nxt else None,
            limit=limit,
        )

    @get(
        "/{batch_id:str}",
        operation_id="getBatch",
        summary="Progress and per-image status of a batch",
        responses=ex.GET_BATCH_RESPONSES,
    )
    async def get_batch(
        self,
        request: Request[Principal, Any, Any],
        services: NamedDependency[Services],
        batch_id: FromPath[str],
        wait: Annotated[float, BATCH_WAIT_PARAMETER] = 0,
    ) -> Response[BatchDetail]:
        """Counts (total, processed, failed), progress 0–1 and one entry per image with its status and error.
        `batch_id` is the id or the public `batchId`. With `wait=N` (long poll, up to 30 s) the answer
        comes as soon as the batch is final (its ZIP built), or after N seconds with its progress. The
        batch (without `images`) is also under `batch`, which the original Lumiku frontend reads."""
        row = await own_batch(batch_id, request.user.user_id)
        found = row
        final = await long_poll(
            services, request.user.user_id, wait, lambda: wait_until_batch_final(request, services, found, wait)
        )
        waited = final is not None
        row = final if final is not None else row
        body = batch_detail(batch_out(row, images=await batches.batch_images(row.id), signer=services.url_signer))
        headers = {"Retry-After": "0" if waited else "2"} if row.unfinished else {}
        return Response(content=body, headers=headers)

    @get(
        "/{batch_id:str}/download",
        operation_id="downloadBatch",
        summary="ZIP of the batch's results",
        media_type="application/zip",
        responses=ex.DOWNLOAD_BATCH_RESPONSES,
    )
    async def download(
        self, request: Request[Principal, Any, Any], batch_id: FromPath[str], storage: NamedDependency[Storage]
    ) -> Response[Any]:
        """One entry per succeeded image, named `001_<original name>.png` (position first, so names are
        unique and keep the upload order). 409 `batch_not_finished` until every image is done."""
        row = await own_batch(batch_id, request.user.user_id)
        if row.unfinished:
            raise BatchNotFinished(
                f"Batch {row.public_id} is still {row.status} ({row.processed_images}/{row.total_images} images done).",
                retry_after=5,
            )
        if not row.zip_key:
            raise ResultNotReady(f"No image of batch {row.public_id} succeeded; there is nothing to download.")
        return await stored_file(
            storage,
            row.zip_key,
            filename=f"{row.public_id}.zip",
            media_type="application/zip",
            expired="The batch's ZIP was deleted after the retention period.",
        )
