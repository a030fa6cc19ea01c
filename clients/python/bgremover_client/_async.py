"""The asyncio client: :mod:`bgremover_client._sync` with ``await``; both build every request and read every
response through :mod:`bgremover_client._core`. Files are read and written in a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack, overload

import httpx

from bgremover_client._core import (
    Call,
    Endpoints,
    Poller,
    default_headers,
    download_target,
    json_body,
    long_poll_for,
    raise_for_problem,
    resolve_base_url,
    transport_error,
)
from bgremover_client._files import ImageSource, collect_images, load_image
from bgremover_client._models import ApiKey, Balance, Batch, Job, Page, Pricing, Readiness, Stats, Subscription
from bgremover_client._options import OptionArgs, OutputOptions, merge_options

__all__ = ["AsyncClient"]


class AsyncClient:
    """Asynchronous client of the bgremover API (same methods as :class:`~client.Client`, awaited).

    ``base_url`` defaults to ``$BGREMOVER_URL`` or ``http://127.0.0.1:8000``; ``token`` to
    ``$BGREMOVER_TOKEN``; pass ``api_key`` (or set ``$BGREMOVER_API_KEY``) to authenticate with an API
    key instead. Use it as a context manager (or call :meth:`close`). Every method raises a
    :class:`~client.BgRemoverClientError` subclass on failure.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=default_headers(token, api_key),
            timeout=timeout,
            transport=transport,
            event_hooks=event_hooks,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        try:
            return await self._http.send(call.build(self._http), stream=stream)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url) from exc

    async def _json(self, call: Call) -> dict[str, Any]:
        return json_body(await self._send(call))

    # -- account and prices ---------------------------------------------------------------------------

    async def ready(self) -> Readiness:
        """``GET /health/ready`` (no token needed); returns the report whether the service is ready or not."""
        response = await self._send(Endpoints.ready())
        if response.status_code not in (200, 503):
            raise_for_problem(response)
        return Readiness.from_api(response.json(), http_status=response.status_code)

    async def pricing(self) -> Pricing:
        """Tiers with their credits and availability, volume discounts, plans and upload limits."""
        return Pricing.from_api(await self._json(Endpoints.pricing()))

    async def balance(self) -> Balance:
        """The caller's credit balance."""
        return Balance.from_api(await self._json(Endpoints.balance()))

    async def stats(self) -> Stats:
        """The caller's usage statistics."""
        return Stats.from_api(await self._json(Endpoints.stats()))

    async def subscription(self) -> Subscription | None:
        """The caller's subscription (active or not), or None if they never subscribed."""
        body = (await self._json(Endpoints.subscription())).get("subscription")
        return Subscription.from_api(body) if isinstance(body, dict) else None

    async def subscribe(self, plan: str, *, idempotency_key: str | None = None) -> Subscription:
        """Subscribe to ``plan``, paying its price in credits (``Plan.credits`` in :meth:`pricing`).

        ``InsufficientCredits`` when the balance is short, ``AlreadySubscribed`` while one is active. With
        ``idempotency_key``, repeating the call (a retry) returns the first answer and charges once.
        """
        call = Endpoints.subscribe(plan, idempotency_key=idempotency_key)
        return Subscription.from_api((await self._json(call))["subscription"])

    async def renew_subscription(self, *, idempotency_key: str | None = None) -> Subscription:
        """Pay one more period of the plan in credits: from the expiry, or from now once it lapsed.

        Every call without a key renews once more; pass ``idempotency_key`` to make a retry safe.
        ``InsufficientCredits`` when the balance is short, ``Conflict`` without a subscription.
        """
        call = Endpoints.renew_subscription(idempotency_key=idempotency_key)
        return Subscription.from_api((await self._json(call))["subscription"])

    async def cancel_subscription(self) -> Subscription:
        """Cancel the active subscription at once; ``Conflict`` when there is none."""
        return Subscription.from_api((await self._json(Endpoints.cancel_subscription()))["subscription"])

    # -- API keys -------------------------------------------------------------------------------------

    async def create_api_key(self, name: str = "", *, scope: str | None = None) -> ApiKey:
        """A new API key; its ``key`` is in this answer only (store it). Needs a bearer token.

        ``scope``: ``"basic"`` (the service's default: jobs, batches, account) or ``"manage"`` (also rotate
        the webhook secret and revoke other keys)."""
        return ApiKey.from_api(await self._json(Endpoints.create_api_key(name, scope)))

    async def api_keys(self) -> list[ApiKey]:
        """The caller's active API keys (prefix, name, dates; never the keys)."""
        body = await self._json(Endpoints.api_keys())
        return [ApiKey.from_api(k) for k in body.get("apiKeys", []) if isinstance(k, dict)]

    async def revoke_api_key(self, key: ApiKey | str) -> ApiKey:
        """Revoke a key (by id or :class:`ApiKey`); it is refused from the next request on."""
        key_id = key if isinstance(key, str) else key.id
        return ApiKey.from_api(await self._json(Endpoints.revoke_api_key(key_id)))

    # -- jobs -----------------------------------------------------------------------------------------

    async def submit(
        self,
        image: ImageSource | None = None,
        *,
        tier: str = "basic",
        options: OutputOptions | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        image_url: str | None = None,
        background: ImageSource | None = None,
        **option_args: Unpack[OptionArgs],
    ) -> Job:
        """Upload one image (a path, bytes or ``(filename, bytes)``), or have the server fetch it from
        ``image_url``; returns the pending :class:`Job`.

        Output options come from ``options`` and/or keywords (``format="webp", size=800, crop=True,
        scale=80, shadow=True``); ``background`` is an image (path, bytes) to put the cut-out on.
        """
        call = Endpoints.submit(
            await asyncio.to_thread(load_image, image) if image is not None else None,
            tier=tier,
            options=merge_options(options, option_args),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            image_url=image_url,
            background=await asyncio.to_thread(load_image, background) if background is not None else None,
        )
        response = await self._send(call)
        return Job.from_api(json_body(response), etag=None)

    async def job(self, job: Job | str) -> Job:
        """The current state of a job."""
        response = await self._send(Endpoints.job(job))
        return Job.from_api(json_body(response), etag=response.headers.get("etag"))

    async def cancel(self, job: Job | str) -> Job:
        """Cancel a pending single job (its credits come back); ``JobNotCancellable`` once it started."""
        return Job.from_api(await self._json(Endpoints.cancel(job)))

    async def jobs_page(self, *, limit: int = 20, cursor: str | None = None) -> Page[Job]:
        """One page of the caller's single jobs, newest first."""
        body = await self._json(Endpoints.jobs(limit=limit, cursor=cursor))
        return Page(tuple(Job.from_api(j) for j in body.get("jobs", [])), body.get("nextCursor"), limit)

    async def jobs(self, *, page_size: int = 20) -> AsyncIterator[Job]:
        """Every single job of the caller, newest first, fetching pages as the iteration goes."""
        cursor: str | None = None
        while True:
            page = await self.jobs_page(limit=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def download_result(self, job: Job | str, dest: str | os.PathLike[str]) -> Path:
        """Write the job's result image to ``dest`` (a file, or a folder to use the server's file name)."""
        return await self._download(
            Endpoints.job_result(job), dest, fallback=f"{job if isinstance(job, str) else job.id}"
        )

    # -- batches --------------------------------------------------------------------------------------

    async def submit_batch(
        self,
        images: Sequence[ImageSource] | str | os.PathLike[str],
        *,
        tier: str = "basic",
        options: OutputOptions | None = None,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        background: ImageSource | None = None,
        **option_args: Unpack[OptionArgs],
    ) -> Batch:
        """Upload 2–500 images (paths, bytes, ``(name, bytes)``, or a folder) as one batch; ``background``
        is one image (path, bytes) every cut-out is put on."""
        loaded = await asyncio.to_thread(_load_all, images)
        call = Endpoints.submit_batch(
            loaded,
            tier=tier,
            options=merge_options(options, option_args),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            background=await asyncio.to_thread(load_image, background) if background is not None else None,
        )
        return Batch.from_api(await self._json(call))

    async def batch(self, batch: Batch | str) -> Batch:
        """A batch with its counts and per-image status (by id or public ``batchId``)."""
        return Batch.from_api(await self._json(Endpoints.batch(batch)))

    async def batches_page(self, *, limit: int = 20, cursor: str | None = None) -> Page[Batch]:
        """One page of the caller's batches, newest first."""
        body = await self._json(Endpoints.batches(limit=limit, cursor=cursor))
        return Page(tuple(Batch.from_api(b) for b in body.get("batches", [])), body.get("nextCursor"), limit)

    async def batches(self, *, page_size: int = 20) -> AsyncIterator[Batch]:
        """Every batch of the caller, newest first."""
        cursor: str | None = None
        while True:
            page = await self.batches_page(limit=page_size, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def download_zip(self, batch: Batch | str, dest: str | os.PathLike[str]) -> Path:
        """Write the batch's ZIP (one entry per succeeded image) to ``dest`` (a file or a folder)."""
        return await self._download(
            Endpoints.batch_download(batch), dest, fallback=f"{batch if isinstance(batch, str) else batch.id}.zip"
        )

    # -- waiting --------------------------------------------------------------------------------------

    @overload
    async def wait(
        self,
        target: Job,
        *,
        timeout: float | None = ...,  # noqa: ASYNC109 - a polling budget, not an I/O timeout
        on_progress: Callable[[Job], object] | None = ...,
        interval: float = ...,
    ) -> Job: ...

    @overload
    async def wait(
        self,
        target: Batch,
        *,
        timeout: float | None = ...,  # noqa: ASYNC109 - a polling budget, not an I/O timeout
        on_progress: Callable[[Batch], object] | None = ...,
        interval: float = ...,
    ) -> Batch: ...

    async def wait(
        self,
        target: Job | Batch,
        *,
        timeout: float | None = 600.0,  # noqa: ASYNC109 - a polling budget, not an I/O timeout
        on_progress: Callable[[Any], object] | None = None,
        interval: float = 1.0,
    ) -> Job | Batch:
        """Wait until the job or batch is final and return its last state.

        Long polls (``?wait=``, up to 25 s each): the server answers the moment the worker is done, so
        there is no polling delay and a long job costs a request every 25 s, not every second. Against a
        server without long polls it polls, sleeping as long as ``Retry-After`` says (``interval`` if it
        says nothing). Sends ``If-None-Match`` so an unchanged job costs a ``304``, calls ``on_progress``
        with every new state (a batch's long poll comes back every 2 s for it) and raises
        :class:`~client.WaitTimeout` after ``timeout`` seconds (None waits forever).
        """
        poller: Poller[Any] = Poller(
            target,
            timeout=timeout,
            interval=interval,
            on_progress=on_progress,
            long_poll=long_poll_for(self._http.timeout),
        )
        while True:
            delay = poller.feed(await self._send(poller.call()))
            if delay is None:
                break
            await asyncio.sleep(delay)
        result: Job | Batch = poller.result
        return result

    wait_for = wait
    """The same as :meth:`wait`: long polls until the job or batch is final."""

    # -- internals ------------------------------------------------------------------------------------

    async def _download(self, call: Call, dest: str | os.PathLike[str], *, fallback: str) -> Path:
        response = await self._send(call, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                raise_for_problem(response)
            target = download_target(dest, response, fallback)
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            out = await asyncio.to_thread(partial.open, "wb")
            try:
                try:
                    async for chunk in response.aiter_bytes():
                        await asyncio.to_thread(out.write, chunk)
                finally:
                    await asyncio.to_thread(out.close)
                await asyncio.to_thread(partial.replace, target)
            except BaseException:
                await asyncio.to_thread(partial.unlink, missing_ok=True)
                raise
            return target
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url) from exc
        finally:
            await response.aclose()


def _load_all(images: Sequence[ImageSource] | str | os.PathLike[str]) -> list[tuple[str, bytes]]:
    sources = collect_images(images) if isinstance(images, str | os.PathLike) else images
    return [load_image(s) for s in sources]
