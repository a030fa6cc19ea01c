"""Accepting work: validate, check the money, store each upload, then charge, record and enqueue.

Nothing is stored for a request that fails validation or that the user could not pay for; uploads
are validated and written one at a time, so a request holds at most one image in memory; the charge,
the job rows and the idempotency record commit together or not at all, and the stored uploads are
deleted again when they do not; enqueueing comes after the commit (a lost enqueue is repaired by the
worker sweep, a lost commit never leaves a queued ghost).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from redis.asyncio import Redis

from api.limits import RateLimiter, ensure_queue_has_room, queue_depth_seen
from api.queue import Enqueuer
from api.services import Services
from api.upload_forms import PAYING_POWER
from core.errors import (
    BatchSizeError,
    BatchTooSmall,
    BgRemoverError,
    FileTooLarge,
    InvalidOptions,
    StorageQuotaExceeded,
    TierUnavailable,
    TooManyQueued,
)
from core.fair_order import Lane
from core.filenames import client_filename
from core.image_probe import ImageInfo, probe
from core.image_urls import ImageUrlFetcher
from core.options import BG_IMAGE_KEY, OPTION_KEYS, OutputOptions
from core.pricing import batch_price, tier_credits
from core.serialisers import API_PREFIX, batch_out, job_out
from core.settings import Settings
from core.storage import Storage, background_key, input_key
from core.tiers import unavailable_reason
from core.webhooks import DnsLookups, check_webhook_target
from db import batches, billing, idempotency, jobs, webhook_secrets


@dataclass(frozen=True)
class StoredUpload:
    """One validated image, already in storage under its job's input key."""

    job_id: uuid.UUID
    key: str
    filename: str
    info: ImageInfo
    digest: bytes
    """sha256 of the bytes, for the ``Idempotency-Key`` fingerprint."""


@dataclass(frozen=True)
class Accepted:
    """A submission the service accepted (or an ``Idempotency-Key`` replay of one): what to answer, and
    the enqueue that is still to run. The routes build their responses from it."""

    id: str
    """The job's or the batch's id."""
    body: Any
    status_code: int
    headers: dict[str, str]
    enqueue: BackgroundTask | None
    """Run after the answer (our routes) or before it (routes that wait for the job); None on a replay."""

    @property
    def replayed(self) -> bool:
        return self.enqueue is None

    def response(self) -> Response[Any]:
        """Our own routes' answer: 202 with the job or batch and a ``Location``, enqueued after it."""
        return Response(content=self.body, status_code=self.status_code, headers=self.headers, background=self.enqueue)


def _new_image(upload: StoredUpload) -> jobs.NewImage:
    info = upload.info
    return jobs.NewImage(upload.job_id, upload.filename, upload.key, info.width, info.height, info.bytes, info.format)


def check_batch_size(count: int, settings: Settings, *, minimum: int | None = None) -> None:
    """``minimum`` replaces ``BATCH_MIN_IMAGES`` for routes whose clients send batches of one (Lumiku's)."""
    least = settings.batch_min_images if minimum is None else minimum
    if count < least:
        hint = " Use POST /jobs for one image." if minimum is None else ""
        raise BatchTooSmall(
            f"A batch needs at least {least} images; got {count}.{hint}",
            minImages=least,
            received=count,
        )
    if count > settings.batch_max_images:
        raise BatchSizeError(
            f"A batch holds at most {settings.batch_max_images} images; got {count}. Split it.",
            maxImages=settings.batch_max_images,
            received=count,
        )


def ensure_user_queue_room(unfinished: int, images: int, settings: Settings) -> None:
    """One client cannot fill the queue: cap the images a user has pending or processing."""
    cap = settings.max_queued_images_per_user
    if cap <= 0:
        return
    if unfinished + images > cap:
        raise TooManyQueued(
            f"You have {unfinished} images waiting or in progress; at most {cap} are allowed. Wait for some to finish.",
            retry_after=10,
            queued=unfinished,
            limit=cap,
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


MAX_BATCH_NAME = 255


def batch_name(raw: str | None) -> str | None:
    """A batch's optional label (shown by the Lumiku frontend): printable, at most 255 characters."""
    name = (raw or "").strip()
    if not name:
        return None
    if len(name) > MAX_BATCH_NAME or not name.isprintable():
        raise InvalidOptions(f"name must be 1-{MAX_BATCH_NAME} printable characters", parameter="name")
    return name


@dataclass(frozen=True)
class Order:
    """What a submission asks for, validated: the tier (priced once, here), options and webhook."""

    tier: str
    unit_credits: int
    options: OutputOptions
    webhook_url: str | None
    name: str | None = None
    """A batch's label; single jobs have none."""
    background_digest: bytes | None = None
    """sha256 of the background image once it is stored (``options.bg_image`` names its key)."""

    def fingerprint(self, uploads: Sequence[StoredUpload]) -> str:
        """What makes two submissions the same request, for ``Idempotency-Key``."""
        # the background's storage key is new on every request: its content is what identifies it
        params = {k: v for k, v in self.options.as_params().items() if k != BG_IMAGE_KEY}
        return idempotency.request_fingerprint(
            [
                self.tier,
                repr(sorted(params.items())),
                self.webhook_url or "",
                # only when given, so that the fingerprints of unnamed batches did not change
                *([f"name:{self.name}"] if self.name else []),
                *([self.background_digest] if self.background_digest else []),
                *[u.digest for u in uploads],
            ]
        )


IDEMPOTENCY_HEADER = "idempotency-key"

FETCH_RATE_COST = 5
"""Requests of the rate limit one image URL fetch costs: it holds a connection and a download."""

Record = Callable[[], Awaitable[tuple[Any, str]]]
"""Inside the transaction, under the user's lock: check the bounds, charge, insert the rows; returns the 202 body
and the ``Location``."""


class Submissions:
    """Accepting jobs and batches, injected into the controllers by Litestar (``submissions``).

    Both paths share one skeleton: :meth:`order` checks what was asked and whether the user can pay,
    :meth:`store` validates and stores the images one by one, :meth:`_accept` claims the
    ``Idempotency-Key``, locks the user, checks their queue and storage room, charges and records in
    one transaction, and enqueues after the response.
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        enqueuer: Enqueuer,
        redis: Redis,
        dns_lookups: DnsLookups | None = None,
        paying_power: billing.PayingPower | None = None,
        *,
        image_urls: ImageUrlFetcher | None = None,
        rate_limiter: RateLimiter | None = None,
        idempotent: bool = True,
        queue_depth_seen: int | None = None,
    ) -> None:
        self.settings = settings
        self.idempotent = idempotent
        """Whether the request carries an ``Idempotency-Key``: only then is each upload's sha256 taken, for its
        fingerprint (hashing a 200 KB upload is a twentieth of the API's work per job)."""
        self.queue_depth_seen = queue_depth_seen
        self.storage = storage
        self.enqueuer = enqueuer
        self.redis = redis
        self.dns_lookups = dns_lookups
        self.image_urls = image_urls
        self.rate_limiter = rate_limiter
        self.paying_power = paying_power
        """What the caller could pay with, when the upload-form hook has read it before the body."""

    async def order(
        self,
        user_id: str,
        tier: str,
        fields: Mapping[str, str | None],
        webhook_url: str | None,
        images: int,
        *,
        batch: bool | None = None,
    ) -> Order:
        """Validate everything but the images, cheapest first; raises before anything is stored.

        ``batch`` says how it will be paid (a batch: in credits, never by a subscription); by default
        one image is a single job and more are a batch.

        The money check comes before the webhook host's DNS lookup and before any upload is stored:
        a user who cannot pay never makes the service wait on a name server or write a file.
        """
        credits = tier_credits(tier)
        reason = unavailable_reason(tier, self.settings)
        if reason is not None:
            raise TierUnavailable(f"Tier {tier!r} is not available on this deployment: {reason}.", tier=tier)
        options = OutputOptions.from_params({k: v for k, v in fields.items() if k in OPTION_KEYS and v is not None})
        name = batch_name(fields.get("name"))
        await ensure_queue_has_room(self.redis, self.settings, images, seen=self.queue_depth_seen)
        power = self._looked_at(user_id) or await billing.paying_power(user_id)
        if not (images > 1 if batch is None else batch):
            power.ensure(credits, tier=tier)
        else:
            power.ensure(batch_price(credits, images).total)
        if webhook_url:
            await check_webhook_target(
                webhook_url,
                allow_private=self.settings.webhook_allow_private,
                allowed_ports=self.settings.webhook_ports,
                lookups=self.dns_lookups,
                user_id=user_id,
            )
        await webhook_secrets.require_for(user_id, webhook_url)  # 409 webhook_secret_missing
        return Order(tier=tier, unit_credits=credits, options=options, webhook_url=webhook_url or None, name=name)

    async def fetch_image(self, user_id: str, url: str, field: str) -> UploadFile:
        """The image at a client's ``url`` (``image_url``, ``bg_image_url``), fetched safely
        (:mod:`core.image_urls`), as if it had been uploaded. A fetch holds a connection and a download
        for up to ``IMAGE_URL_TIMEOUT_S``, so it costs :data:`FETCH_RATE_COST` requests of the rate limit;
        a failed one costs no credits."""
        if self.image_urls is None:
            raise RuntimeError("Submissions was built without an image URL fetcher")
        if self.rate_limiter is not None:
            self.rate_limiter.raise_if_denied(await self.rate_limiter.check(self.redis, user_id, FETCH_RATE_COST))
        fetched = await self.image_urls.fetch(url, user_id=user_id, field=field)
        return UploadFile(
            content_type=fetched.content_type or "application/octet-stream",
            filename=fetched.filename,
            file_data=fetched.data,
        )

    async def with_background(self, user_id: str, order: Order, upload: UploadFile | None, url: str | None) -> Order:
        """``order`` with the background image (``bg_image_file`` or ``bg_image_url``) validated like an
        upload and stored; the key is in its options. Deleted again with the uploads when the
        submission is not accepted (:meth:`discard`)."""
        if upload is not None and url:
            raise InvalidOptions("send bg_image_file or bg_image_url, not both", parameter="bg_image_url")
        if upload is None and not url:
            return order
        replace(order.options, bg_image="-")  # refuses what cannot go with a background before any download
        if url:
            upload = await self.fetch_image(user_id, url, "bg_image_url")
        assert upload is not None
        limit = self.settings.max_image_bytes
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(f"The background image is larger than {limit} bytes.", maxBytes=limit)
        try:
            info = probe(data, self.settings)
        except BgRemoverError as exc:
            raise type(exc)(f"the background image: {exc.detail}", **exc.extra) from None
        key = background_key(uuid.uuid4(), info.format)
        await self.storage.put(key, data)
        return replace(
            order, options=replace(order.options, bg_image=key), background_digest=hashlib.sha256(data).digest()
        )

    async def store(self, user_id: str, order: Order, files: Sequence[UploadFile]) -> list[StoredUpload]:
        """Validate and store each image in turn; one bad image rejects them all, every problem listed.

        After the first problem nothing more is stored (what was is deleted at once), but every image
        is still checked so the answer lists them all. A single job's problem is raised as it is; a
        batch's are gathered into one error of the first one's type.
        """
        stored: list[StoredUpload] = []
        problems: list[tuple[int, str, BgRemoverError]] = []
        pending = await self._pending_bytes(user_id)
        try:
            for index, upload in enumerate(files):
                name = client_filename(upload.filename)
                try:
                    data, info = await self._check_one(upload, name, order)
                except BgRemoverError as exc:
                    if not problems:
                        await self.discard(stored)
                        stored.clear()
                    problems.append((index, name, exc))
                    continue
                if problems:
                    continue
                pending += info.bytes
                self._check_storage_room(pending, self.settings.max_pending_bytes_per_user)
                stored.append(await self._put(name, data, info))
                if len(files) > 1:
                    # a small upload is written without leaving the event loop: a batch of 500 must still
                    # let other requests in between its images
                    await asyncio.sleep(0)
        except BaseException:
            await self.discard(stored, order)
            raise
        if problems:
            await self.discard([], order)
            if len(files) == 1:
                raise problems[0][2]
            raise _gathered(problems, len(files))
        return stored

    async def _check_one(self, upload: UploadFile, name: str, order: Order) -> tuple[bytes, ImageInfo]:
        limit = self.settings.max_image_bytes
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(f"{name or 'The image'} is larger than {limit} bytes", filename=name, maxBytes=limit)
        info = probe(data, self.settings)
        try:
            order.options.check_fits(info.width, info.height)
        except BgRemoverError as exc:
            raise type(exc)(f"{name or 'the image'}: {exc.detail}", **exc.extra) from None
        return data, info

    async def _put(self, name: str, data: bytes, info: ImageInfo) -> StoredUpload:
        job_id = uuid.uuid4()
        key = input_key(job_id, info.format)
        await self.storage.put(key, data)
        return StoredUpload(job_id, key, name, info, hashlib.sha256(data).digest() if self.idempotent else b"")

    async def accept_job(
        self, user_id: str, order: Order, upload: StoredUpload, idempotency_key: str | None
    ) -> Accepted:
        """Charge (subscription quota first, then credits) and record one job."""

        # A subscription is asked in the transaction only when the look before the body saw quota left for
        # this tier: most jobs are paid in credits, and this spares them a round trip. A subscription that
        # starts in the milliseconds between the look and the charge covers the user's next job, not this one.
        power = self._looked_at(user_id)
        may_cover = power is None or order.tier in power.quota_tiers

        async def record() -> tuple[Any, str]:
            coverage = await billing.cover_with_subscription(user_id, order.tier) if may_cover else None
            price = 0 if coverage else order.unit_credits
            admission = await billing.admit_job(
                _new_image(upload),
                user_id=user_id,
                tier=order.tier,
                output_options=order.options.as_params(),
                webhook_url=order.webhook_url,
                price=price,
                coverage=coverage,
                max_unfinished=self.settings.max_queued_images_per_user,
                max_pending_bytes=self.settings.max_pending_bytes_per_user,
            )
            if admission.job is None:  # the same checks, in Python, to say which bound refused it
                self._check_room(admission.unfinished, [upload])
                raise billing.short_of(price, admission.balance)
            return msgspec.to_builtins(job_out(admission.job)), f"{API_PREFIX}/jobs/{upload.job_id}"

        return await self._accept(user_id, "POST /jobs", idempotency_key, order, [upload], record, Lane.INTERACTIVE)

    async def accept_batch(
        self, user_id: str, order: Order, uploads: list[StoredUpload], idempotency_key: str | None
    ) -> Accepted:
        """Charge the discounted batch price and record the batch with one job per image."""
        batch_id = uuid.uuid4()
        price = batch_price(order.unit_credits, len(uploads))

        async def record() -> tuple[Any, str]:
            self._check_room(await jobs.unfinished_totals(user_id), uploads)
            batch = await batches.insert_batch(
                batch_id=batch_id,
                public_id="b_" + secrets.token_urlsafe(12),
                name=order.name,
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
            await jobs.insert_batch_jobs(
                batch_id,
                user_id=user_id,
                tier=order.tier,
                output_options=order.options.as_params(),
                images=[_new_image(u) for u in uploads],
                credits=list(price.per_image),
            )
            return msgspec.to_builtins(batch_out(batch)), f"{API_PREFIX}/batches/{batch_id}"

        return await self._accept(user_id, "POST /batches", idempotency_key, order, uploads, record, Lane.BATCH)

    async def discard(self, uploads: Sequence[StoredUpload], order: Order | None = None) -> None:
        """Delete what a submission that was not accepted stored (its uploads, with ``order`` its background)."""
        for upload in uploads:
            await self.storage.delete(upload.key)
        if order is not None and order.options.bg_image is not None:
            await self.storage.delete(order.options.bg_image)

    def _looked_at(self, user_id: str) -> billing.PayingPower | None:
        """What the upload-form hook read for this user before the body, if it did."""
        power = self.paying_power
        return power if power is not None and power.user_id == user_id else None

    async def _pending_bytes(self, user_id: str) -> int:
        # read with the balance before the body, a few milliseconds ago; the transaction checks again
        power = self._looked_at(user_id)
        pending = power.pending_input_bytes if power else await jobs.pending_input_bytes(user_id)
        self._check_storage_room(pending, self.settings.max_pending_bytes_per_user)
        return pending

    def _check_room(self, unfinished: jobs.UnfinishedTotals, uploads: Sequence[StoredUpload]) -> None:
        """Under the user's lock: the queue and storage bounds, counting what the user's other requests
        stored meanwhile."""
        ensure_user_queue_room(unfinished.images, len(uploads), self.settings)
        stored_now = sum(u.info.bytes for u in uploads)
        self._check_storage_room(unfinished.pending_bytes + stored_now, self.settings.max_pending_bytes_per_user)

    @staticmethod
    def _check_storage_room(pending: int, cap: int) -> None:
        """Bound the bytes one user keeps stored and unprocessed (a cancel and the worker free them)."""
        if 0 < cap < pending:
            raise StorageQuotaExceeded(
                f"Your uploads waiting to be processed would take {pending} bytes; at most {cap} bytes are "
                "allowed. Wait for some to finish, or cancel some.",
                retry_after=30,
                pendingBytes=pending,
                limit=cap,
            )

    async def _accept(
        self,
        user_id: str,
        endpoint: str,
        idempotency_key: str | None,
        order: Order,
        uploads: Sequence[StoredUpload],
        record: Record,
        lane: Lane,
    ) -> Accepted:
        async def work() -> tuple[Any, dict[str, str]]:
            await billing.lock_user(user_id)
            body, location = await record()
            return body, {"Location": location}

        try:
            if idempotency_key is not None and not self.idempotent:
                raise RuntimeError("an Idempotency-Key came without the request's header: the uploads have no digest")
            outcome = await idempotency.once(user_id, endpoint, idempotency_key, order.fingerprint(uploads), 202, work)
        except BaseException:
            await self.discard(uploads, order)
            raise
        if isinstance(outcome, idempotency.Replay):
            await self.discard(uploads, order)
            headers = {**outcome.headers, "Idempotent-Replayed": "true"}
            return Accepted(str(outcome.body["id"]), outcome.body, outcome.status_code, headers, enqueue=None)
        # Committed in PostgreSQL already: enqueueing after the response keeps Redis off the request's
        # latency, and a lost enqueue is repaired by the worker sweep.
        sized = [(u.job_id, u.info.megapixels) for u in uploads]
        enqueue = BackgroundTask(self.enqueuer.enqueue_jobs, user_id, lane, order.unit_credits, sized)
        return Accepted(str(outcome.body["id"]), outcome.body, 202, outcome.headers, enqueue)


def _gathered(problems: list[tuple[int, str, BgRemoverError]], total: int) -> BgRemoverError:
    index, name, first = problems[0]
    listed = [{"index": i, "filename": n, "code": e.code, "detail": e.detail} for i, n, e in problems]
    return type(first)(
        f"{len(problems)} of {total} images cannot be processed; nothing was charged. "
        f"First: {name or '#' + str(index)}: {first.detail}",
        errors=listed,
    )


def provide_submissions(services: NamedDependency[Services], request: Request[Any, Any, Any]) -> Submissions:
    return Submissions(
        services.settings,
        services.storage,
        services.enqueuer,
        services.redis,
        services.dns_lookups,
        request.state.get(PAYING_POWER),
        image_urls=services.image_urls,
        rate_limiter=services.rate_limiter,
        idempotent=IDEMPOTENCY_HEADER in request.headers,
        queue_depth_seen=queue_depth_seen(request.state),
    )
