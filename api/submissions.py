"""Accepting work: validate every upload, store it, charge, record and enqueue, in that order.

Nothing is stored or charged for a request that fails validation; the charge, the job rows and the
idempotency record commit together or not at all; enqueueing comes after the commit (a lost
enqueue is repaired by the worker sweep, a lost commit never leaves a queued ghost).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State, UploadFile
from redis.asyncio import Redis

from api.limits import ensure_queue_has_room
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
from core.serialisers import API_PREFIX, batch_out, job_out
from core.settings import Settings
from core.storage import LocalStorage, input_key
from core.tiers import model_installed
from core.webhooks import check_webhook_target
from db import batches, billing, idempotency, jobs
from db.piccolo_conf import DB


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    info: ImageInfo


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


def form_fields(form: dict[str, Any]) -> dict[str, str]:
    """The text fields of a multipart form; repeated text fields are an error."""
    out: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            raise InvalidOptions(f"field {name!r} was sent {len(value)} times; send it once", parameter=name)
    return out


@dataclass(frozen=True)
class Order:
    """What a submission asks for, validated: the tier (priced once, here), options and webhook."""

    tier: str
    unit_credits: int
    options: OutputOptions
    webhook_url: str | None

    def fingerprint(self, uploads: Sequence[Upload]) -> str:
        """What makes two submissions the same request, for ``Idempotency-Key``."""
        return idempotency.request_fingerprint(
            [
                self.tier,
                repr(sorted(self.options.as_params().items())),
                self.webhook_url or "",
                *[u.data for u in uploads],
            ]
        )


@dataclass(frozen=True)
class _Stored:
    """Uploads written to storage before the transaction; deleted again unless the job rows commit."""

    keys: list[str]
    job_ids: list[uuid.UUID]


Record = Callable[[], Awaitable[tuple[Any, str]]]
"""Inside the transaction: charge, insert the rows; returns the 202 body and the ``Location``."""


class Submissions:
    """Accepting jobs and batches, injected into the controllers by Litestar (``submissions``).

    Both paths share one skeleton (:meth:`_accept`): store the uploads, then in one transaction claim
    the ``Idempotency-Key``, lock the user, check their queue room, charge and record; enqueue after
    the response.
    """

    def __init__(self, settings: Settings, storage: LocalStorage, enqueuer: Enqueuer, redis: Redis) -> None:
        self.settings = settings
        self.storage = storage
        self.enqueuer = enqueuer
        self.redis = redis

    async def order(self, tier: str, fields: Mapping[str, str | None], webhook_url: str | None, images: int) -> Order:
        """Validate everything but the images, cheapest first; raises before anything is read or stored."""
        credits = tier_credits(tier)
        if not model_installed(tier, self.settings.model_dir):
            raise TierUnavailable(f"Tier {tier!r} is not available on this deployment right now.", tier=tier)
        options = OutputOptions.from_params({k: v for k, v in fields.items() if k in OPTION_KEYS and v is not None})
        if webhook_url:
            await check_webhook_target(webhook_url, allow_private=self.settings.webhook_allow_private)
        await ensure_queue_has_room(self.redis, self.settings, images)
        return Order(tier=tier, unit_credits=credits, options=options, webhook_url=webhook_url or None)

    async def accept_job(
        self, user_id: str, order: Order, upload: Upload, idempotency_key: str | None
    ) -> Response[Any]:
        """Charge (subscription quota first, then credits) and record one job."""
        job_id = uuid.uuid4()

        async def record() -> tuple[Any, str]:
            coverage = await billing.cover_with_subscription(user_id, order.tier)
            price = 0 if coverage else order.unit_credits
            row = await jobs.insert_job(
                job_id=job_id,
                user_id=user_id,
                tier=order.tier,
                original_filename=upload.filename,
                input_key=stored.keys[0],
                input_width=upload.info.width,
                input_height=upload.info.height,
                input_bytes=upload.info.bytes,
                input_format=upload.info.format,
                output_options=order.options.as_params(),
                pricing_type="subscription" if coverage else "credit",
                credits_charged=price,
                usage_date=coverage.usage_date if coverage else None,
                webhook_url=order.webhook_url,
            )
            if coverage is None:
                await billing.charge(
                    user_id, price, entry_key=f"charge:job:{job_id}", reason=f"{order.tier} image", job_id=job_id
                )
            return msgspec.to_builtins(job_out(row)), f"{API_PREFIX}/jobs/{job_id}"

        stored = await self._store([job_id], [upload])
        return await self._accept(user_id, "POST /jobs", idempotency_key, order.fingerprint([upload]), stored, record)

    async def accept_batch(
        self, user_id: str, order: Order, uploads: list[Upload], idempotency_key: str | None
    ) -> Response[Any]:
        """Charge the discounted batch price and record the batch with one job per image."""
        batch_id = uuid.uuid4()
        price = batch_price(order.unit_credits, len(uploads))

        async def record() -> tuple[Any, str]:
            batch = await batches.insert_batch(
                batch_id=batch_id,
                public_id="b_" + secrets.token_urlsafe(12),
                user_id=user_id,
                tier=order.tier,
                total_images=len(uploads),
                credits_before_discount=price.before_discount,
                credits_charged=price.total,
                discount_percent=price.discount_percent,
                output_options=order.options.as_params(),
                webhook_url=order.webhook_url,
            )
            await billing.charge(
                user_id,
                price.total,
                entry_key=f"charge:batch:{batch_id}",
                reason=f"batch of {len(uploads)} {order.tier} images ({price.discount_percent}% off)",
                batch_id=batch_id,
            )
            for position, (job_id, key, upload) in enumerate(zip(stored.job_ids, stored.keys, uploads, strict=True)):
                await jobs.insert_job(
                    job_id=job_id,
                    user_id=user_id,
                    tier=order.tier,
                    original_filename=upload.filename,
                    input_key=key,
                    input_width=upload.info.width,
                    input_height=upload.info.height,
                    input_bytes=upload.info.bytes,
                    input_format=upload.info.format,
                    output_options=order.options.as_params(),
                    pricing_type="credit",
                    credits_charged=price.per_image[position],
                    usage_date=None,
                    webhook_url=None,
                    batch_id=batch_id,
                    position=position,
                )
            return msgspec.to_builtins(batch_out(batch)), f"{API_PREFIX}/batches/{batch_id}"

        stored = await self._store([uuid.uuid4() for _ in uploads], uploads)
        fingerprint = order.fingerprint(uploads)
        return await self._accept(user_id, "POST /batches", idempotency_key, fingerprint, stored, record)

    async def _store(self, job_ids: list[uuid.UUID], uploads: Sequence[Upload]) -> _Stored:
        keys = [input_key(j, u.info.format) for j, u in zip(job_ids, uploads, strict=True)]

        def put_all() -> None:
            for key, upload in zip(keys, uploads, strict=True):
                self.storage.put(key, upload.data)

        await asyncio.to_thread(put_all)
        return _Stored(keys=keys, job_ids=job_ids)

    async def _discard(self, stored: _Stored) -> None:
        def delete_all() -> None:
            for key in stored.keys:
                self.storage.delete(key)

        await asyncio.to_thread(delete_all)

    async def _accept(
        self,
        user_id: str,
        endpoint: str,
        idempotency_key: str | None,
        fingerprint: str,
        stored: _Stored,
        record: Record,
    ) -> Response[Any]:
        try:
            async with DB.transaction():
                record_id = None
                if idempotency_key:
                    claimed = await idempotency.claim(user_id, endpoint, idempotency_key, fingerprint)
                    if isinstance(claimed, idempotency.Replay):
                        await self._discard(stored)
                        headers = {**claimed.headers, "Idempotent-Replayed": "true"}
                        return Response(content=claimed.body, status_code=claimed.status_code, headers=headers)
                    record_id = claimed
                await billing.lock_user(user_id)
                await ensure_user_queue_room(user_id, len(stored.job_ids), self.settings)
                body, location = await record()
                headers = {"Location": location}
                if record_id is not None:
                    await idempotency.complete(record_id, 202, body, headers)
        except BaseException:
            await self._discard(stored)
            raise
        # Committed in PostgreSQL already: enqueueing after the response keeps Redis off the request's
        # latency, and a lost enqueue is repaired by the worker sweep.
        return Response(
            content=body,
            status_code=202,
            headers=headers,
            background=BackgroundTask(self.enqueuer.enqueue_jobs, stored.job_ids),
        )


def provide_submissions(state: State) -> Submissions:
    return Submissions(state.settings, state.storage, state.enqueuer, state.redis)
