"""Accepting work: validate every upload, store it, charge, record and enqueue, in that order.

Nothing is stored or charged for a request that fails validation; the charge, the job rows and the
idempotency record commit together or not at all; enqueueing comes after the commit (a lost
enqueue is repaired by the worker sweep, a lost commit never leaves a queued ghost).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile

from api.queue import Enqueuer
from core.errors import (
    BatchSizeError,
    BatchTooSmall,
    BgRemoverError,
    FileTooLarge,
    InvalidOptions,
    TierUnavailable,
    TooManyQueued,
)
from core.filenames import client_filename
from core.image_probe import ImageInfo, probe
from core.options import OPTION_KEYS, OutputOptions
from core.pricing import batch_price, tier_credits
from core.settings import Settings
from core.storage import LocalStorage, input_key
from core.tiers import model_installed
from core.webhooks import check_webhook_target
from db import batches, billing, idempotency, jobs, webhook_secrets
from db.piccolo_conf import DB


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    info: ImageInfo


@dataclass(frozen=True)
class Accepted:
    status_code: int
    body: Any
    headers: dict[str, str]
    job_ids: list[uuid.UUID]
    replayed: bool = False


async def read_upload(upload: UploadFile, settings: Settings) -> Upload:
    data = await upload.read(settings.max_image_bytes + 1)
    name = client_filename(upload.filename)
    if len(data) > settings.max_image_bytes:
        raise FileTooLarge(
            f"{name or 'The image'} is larger than {settings.max_image_bytes} bytes",
            filename=name,
            maxBytes=settings.max_image_bytes,
        )
    info = probe(data, settings)
    return Upload(filename=name, data=data, info=info)


def check_tier(tier: str, settings: Settings) -> int:
    credits = tier_credits(tier)
    if not model_installed(tier, settings.model_dir):
        raise TierUnavailable(f"Tier {tier!r} is not available on this deployment right now.", tier=tier)
    return credits


def parse_options(fields: dict[str, str]) -> OutputOptions:
    return OutputOptions.from_params({k: v for k, v in fields.items() if k in OPTION_KEYS})


async def check_webhook(url: str | None, settings: Settings) -> str | None:
    if not url:
        return None
    await check_webhook_target(url, allow_private=settings.webhook_allow_private)
    return url


def _fingerprint(tier: str, options: OutputOptions, webhook_url: str | None, uploads: list[Upload]) -> str:
    """What makes two submissions the same request, for ``Idempotency-Key``."""
    return idempotency.request_fingerprint(
        [tier, repr(sorted(options.as_params().items())), webhook_url or "", *[u.data for u in uploads]]
    )


async def accept_single(
    *,
    user_id: str,
    tier: str,
    upload: Upload,
    options: OutputOptions,
    webhook_url: str | None,
    idempotency_key: str | None,
    storage: LocalStorage,
    location_prefix: str,
    render: Any,
    settings: Settings,
) -> Accepted:
    """Charge (subscription quota first, then credits) and record one job."""
    await webhook_secrets.require_for(user_id, webhook_url)  # 409 webhook_secret_missing, before anything is stored
    fingerprint = _fingerprint(tier, options, webhook_url, [upload])
    job_id = uuid.uuid4()
    key = input_key(job_id, upload.info.format)
    await asyncio.to_thread(storage.put, key, upload.data)
    try:
        async with DB.transaction():
            record_id = None
            if idempotency_key:
                claimed = await idempotency.claim(user_id, "POST /jobs", idempotency_key, fingerprint)
                if isinstance(claimed, idempotency.Replay):
                    await asyncio.to_thread(storage.delete, key)
                    return Accepted(claimed.status_code, claimed.body, claimed.headers, [], replayed=True)
                record_id = claimed
            await billing.lock_user(user_id)
            await ensure_user_queue_room(user_id, 1, settings)
            coverage = await billing.cover_with_subscription(user_id, tier)
            price = 0 if coverage else tier_credits(tier)
            row = await jobs.insert_job(
                job_id=job_id,
                user_id=user_id,
                tier=tier,
                original_filename=upload.filename,
                input_key=key,
                input_width=upload.info.width,
                input_height=upload.info.height,
                input_bytes=upload.info.bytes,
                input_format=upload.info.format,
                output_options=options.as_params(),
                pricing_type="subscription" if coverage else "credit",
                credits_charged=price,
                usage_date=coverage.usage_date if coverage else None,
                webhook_url=webhook_url,
            )
            if coverage is None:
                await billing.charge(
                    user_id, price, entry_key=f"charge:job:{job_id}", reason=f"{tier} image", job_id=job_id
                )
            body = render(row)
            headers = {"Location": f"{location_prefix}/jobs/{job_id}"}
            if record_id is not None:
                await idempotency.complete(record_id, 202, body, headers)
    except BaseException:
        await asyncio.to_thread(storage.delete, key)
        raise
    return Accepted(202, body, headers, [job_id])


async def ensure_user_queue_room(user_id: str, images: int, settings: Settings) -> None:
    """One client cannot fill the queue: cap the images a user has pending or processing."""
    cap = settings.max_queued_images_per_user
    if cap <= 0:
        return
    unfinished = await jobs.count_unfinished(user_id)
    if unfinished + images > cap:
        raise TooManyQueued(
            f"You have {unfinished} images waiting or in progress; at most {cap} are allowed. Wait for some to finish.",
            retry_after=10,
            queued=unfinished,
            limit=cap,
        )


def check_batch_size(count: int, settings: Settings) -> None:
    if count < settings.batch_min_images:
        raise BatchTooSmall(
            f"A batch needs at least {settings.batch_min_images} images; got {count}. Use POST /jobs for one image.",
            minImages=settings.batch_min_images,
            received=count,
        )
    if count > settings.batch_max_images:
        raise BatchSizeError(
            f"A batch holds at most {settings.batch_max_images} images; got {count}. Split it.",
            maxImages=settings.batch_max_images,
            received=count,
        )


async def read_batch_uploads(files: list[UploadFile], settings: Settings) -> list[Upload]:
    """Validate every image; one bad image rejects the batch, with every problem listed."""
    uploads: list[Upload] = []
    problems: list[dict[str, Any]] = []
    first: BgRemoverError | None = None
    for index, upload in enumerate(files):
        try:
            uploads.append(await read_upload(upload, settings))
        except BgRemoverError as exc:
            first = first or exc
            problems.append(
                {"index": index, "filename": client_filename(upload.filename), "code": exc.code, "detail": exc.detail}
            )
    if first is not None:
        err = type(first)(
            f"{len(problems)} of {len(files)} images cannot be processed; nothing was charged. "
            f"First: {problems[0]['filename'] or '#' + str(problems[0]['index'])}: {problems[0]['detail']}",
            errors=problems,
        )
        raise err
    return uploads


async def accept_batch(
    *,
    user_id: str,
    tier: str,
    uploads: list[Upload],
    options: OutputOptions,
    webhook_url: str | None,
    idempotency_key: str | None,
    storage: LocalStorage,
    location_prefix: str,
    render: Any,
    settings: Settings,
) -> Accepted:
    """Charge the discounted batch price and record the batch with one job per image."""
    await webhook_secrets.require_for(user_id, webhook_url)  # 409 webhook_secret_missing, before anything is stored
    fingerprint = _fingerprint(tier, options, webhook_url, uploads)
    batch_id = uuid.uuid4()
    job_ids = [uuid.uuid4() for _ in uploads]
    keys = [input_key(j, u.info.format) for j, u in zip(job_ids, uploads, strict=True)]

    def store_all() -> None:
        for key, upload in zip(keys, uploads, strict=True):
            storage.put(key, upload.data)

    def delete_all() -> None:
        for key in keys:
            storage.delete(key)

    await asyncio.to_thread(store_all)
    price = batch_price(tier, len(uploads))
    public_id = "b_" + secrets.token_urlsafe(12)
    try:
        async with DB.transaction():
            record_id = None
            if idempotency_key:
                claimed = await idempotency.claim(user_id, "POST /batches", idempotency_key, fingerprint)
                if isinstance(claimed, idempotency.Replay):
                    await asyncio.to_thread(delete_all)
                    return Accepted(claimed.status_code, claimed.body, claimed.headers, [], replayed=True)
                record_id = claimed
            await billing.lock_user(user_id)
            await ensure_user_queue_room(user_id, len(uploads), settings)
            batch = await batches.insert_batch(
                batch_id=batch_id,
                public_id=public_id,
                user_id=user_id,
                tier=tier,
                total_images=len(uploads),
                credits_before_discount=price.before_discount,
                credits_charged=price.total,
                discount_percent=price.discount_percent,
                output_options=options.as_params(),
                webhook_url=webhook_url,
            )
            await billing.charge(
                user_id,
                price.total,
                entry_key=f"charge:batch:{batch_id}",
                reason=f"batch of {len(uploads)} {tier} images ({price.discount_percent}% off)",
                batch_id=batch_id,
            )
            for position, (job_id, key, upload) in enumerate(zip(job_ids, keys, uploads, strict=True)):
                await jobs.insert_job(
                    job_id=job_id,
                    user_id=user_id,
                    tier=tier,
                    original_filename=upload.filename,
                    input_key=key,
                    input_width=upload.info.width,
                    input_height=upload.info.height,
                    input_bytes=upload.info.bytes,
                    input_format=upload.info.format,
                    output_options=options.as_params(),
                    pricing_type="credit",
                    credits_charged=price.per_image[position],
                    usage_date=None,
                    webhook_url=None,
                    batch_id=batch_id,
                    position=position,
                )
            body = render(batch)
            headers = {"Location": f"{location_prefix}/batches/{batch_id}"}
            if record_id is not None:
                await idempotency.complete(record_id, 202, body, headers)
    except BaseException:
        await asyncio.to_thread(delete_all)
        raise
    return Accepted(202, body, headers, job_ids)


def accepted_response(accepted: Accepted, enqueuer: Enqueuer) -> Response[Any]:
    """The 202 (or the replayed first answer), with the enqueue scheduled after it is sent.

    The work is committed in PostgreSQL already; enqueueing after the response keeps Redis off the
    request's latency, and a lost enqueue is repaired by the worker sweep.
    """
    headers = dict(accepted.headers)
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        content=accepted.body,
        status_code=accepted.status_code,
        headers=headers,
        background=BackgroundTask(enqueuer.enqueue_jobs, accepted.job_ids) if accepted.job_ids else None,
    )


def form_fields(form: dict[str, Any]) -> dict[str, str]:
    """The text fields of a multipart form; repeated text fields are an error."""
    out: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            raise InvalidOptions(f"field {name!r} was sent {len(value)} times; send it once", parameter=name)
    return out
