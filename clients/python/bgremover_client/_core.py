"""The I/O-free half of the client, shared by :class:`Client` and :class:`AsyncClient`.

:class:`Endpoints` turns a method call into a :class:`Call` (method, path, headers, form, files);
:func:`raise_for_problem` and the ``from_api`` constructors turn responses back into objects;
:class:`Poller` is the whole ``wait()`` algorithm as a state machine (which request next, how long to
sleep), so the sync and async clients only send and sleep.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from bgremover_client._errors import APIError, BgRemoverClientError, WaitTimeout, error_from_response, parse_retry_after
from bgremover_client._files import filename_from_disposition, safe_name
from bgremover_client._models import Batch, Job

API_PREFIX = "/api/background-remover"
DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "BGREMOVER_URL"
TOKEN_ENV = "BGREMOVER_TOKEN"
API_KEY_ENV = "BGREMOVER_API_KEY"
USER_AGENT = "bgremover-client/0.1"

T = TypeVar("T", Job, Batch)


def resolve_base_url(base_url: str | None) -> str:
    """``base_url``, else ``$BGREMOVER_URL``, else ``http://127.0.0.1:8000`` (no trailing slash)."""
    url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
    return url.rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$BGREMOVER_TOKEN``, else None (only ``/health`` works without one)."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    return value.strip() if value and value.strip() else None


def resolve_credentials(token: str | None, api_key: str | None) -> dict[str, str]:
    """The header that authenticates: an explicit ``api_key`` or ``token`` first, then
    ``$BGREMOVER_API_KEY``, then ``$BGREMOVER_TOKEN``. The API refuses a request carrying both, so only
    one is ever sent; passing both explicitly is a mistake (``ValueError``)."""
    if token is not None and api_key is not None:
        raise ValueError("pass either token or api_key, not both")
    if api_key is not None or (token is None and os.environ.get(API_KEY_ENV, "").strip()):
        key = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).strip()
        return {"X-Api-Key": key} if key else {}
    resolved = resolve_token(token)
    return {"Authorization": f"Bearer {resolved}"} if resolved else {}


def default_headers(token: str | None, api_key: str | None = None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
    headers.update(resolve_credentials(token, api_key))
    return headers


@dataclass(frozen=True)
class Call:
    """One HTTP request to make, relative to the base URL."""

    method: str
    path: str
    params: dict[str, str | int] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]] | None = None
    json: Any = None

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, built by ``http`` so its base URL, headers and timeout apply."""
        return http.build_request(
            self.method,
            self.path,
            params=self.params,
            headers=self.headers or None,
            data=self.data,
            files=self.files,
            json=self.json,
        )


def _id(obj: Job | Batch | str) -> str:
    return obj if isinstance(obj, str) else obj.id


def _form(tier: str, options: Mapping[str, str], webhook_url: str | None) -> dict[str, str]:
    form = {"tier": tier, **options}
    if webhook_url:
        form["webhook_url"] = webhook_url
    return form


def _background(
    background: tuple[str, bytes] | None,
) -> list[tuple[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]]:
    if background is None:
        return []
    return [("bg_image_file", (background[0], background[1], "application/octet-stream"))]


def _wait_param(wait: float) -> dict[str, str | int] | None:
    return {"wait": f"{wait:.1f}"} if wait >= 0.1 else None


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


class Endpoints:
    """One :class:`Call` per API operation."""

    @staticmethod
    def pricing() -> Call:
        return Call("GET", f"{API_PREFIX}/pricing")

    @staticmethod
    def submit(
        image: tuple[str, bytes] | None,
        *,
        tier: str,
        options: Mapping[str, str],
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        image_url: str | None = None,
        background: tuple[str, bytes] | None = None,
    ) -> Call:
        if (image is None) == (not image_url):
            raise ValueError("give one image: a file (image) or a URL (image_url)")
        data = _form(tier, options, webhook_url)
        files = _background(background)
        if image is not None:
            files.insert(0, ("image", (image[0], image[1], "application/octet-stream")))
        else:
            # a part without a filename is a text field: it keeps the body multipart, which the route reads
            files.append(("image_url", (None, str(image_url))))
        return Call("POST", f"{API_PREFIX}/jobs", headers=_idempotency(idempotency_key), data=data, files=files)

    @staticmethod
    def submit_batch(
        images: Sequence[tuple[str, bytes]],
        *,
        tier: str,
        options: Mapping[str, str],
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        background: tuple[str, bytes] | None = None,
    ) -> Call:
        return Call(
            "POST",
            f"{API_PREFIX}/batches",
            headers=_idempotency(idempotency_key),
            data=_form(tier, options, webhook_url),
            files=[
                *[("images[]", (name, data, "application/octet-stream")) for name, data in images],
                *_background(background),
            ],
        )

    @staticmethod
    def job(job: Job | str, *, etag: str | None = None, wait: float = 0) -> Call:
        """``wait`` > 0: a long poll, answered when the job is final or after ``wait`` seconds."""
        return Call(
            "GET",
            f"{API_PREFIX}/jobs/{_id(job)}",
            params=_wait_param(wait),
            headers={"If-None-Match": etag} if etag else {},
        )

    @staticmethod
    def job_result(job: Job | str) -> Call:
        return Call("GET", f"{API_PREFIX}/jobs/{_id(job)}/result", headers={"Accept": "*/*"})

    @staticmethod
    def cancel(job: Job | str) -> Call:
        return Call("DELETE", f"{API_PREFIX}/jobs/{_id(job)}")

    @staticmethod
    def jobs(*, limit: int, cursor: str | None) -> Call:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return Call("GET", f"{API_PREFIX}/jobs", params=params)

    @staticmethod
    def batch(batch: Batch | str, *, wait: float = 0) -> Call:
        return Call("GET", f"{API_PREFIX}/batches/{_id(batch)}", params=_wait_param(wait))

    @staticmethod
    def batches(*, limit: int, cursor: str | None) -> Call:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return Call("GET", f"{API_PREFIX}/batches", params=params)

    @staticmethod
    def batch_download(batch: Batch | str) -> Call:
        return Call("GET", f"{API_PREFIX}/batches/{_id(batch)}/download", headers={"Accept": "*/*"})

    @staticmethod
    def balance() -> Call:
        return Call("GET", f"{API_PREFIX}/credits/balance")

    @staticmethod
    def stats() -> Call:
        return Call("GET", f"{API_PREFIX}/stats")

    @staticmethod
    def subscription() -> Call:
        return Call("GET", f"{API_PREFIX}/subscription")

    @staticmethod
    def subscribe(plan: str, *, idempotency_key: str | None = None) -> Call:
        return Call("POST", f"{API_PREFIX}/subscription", headers=_idempotency(idempotency_key), json={"plan": plan})

    @staticmethod
    def renew_subscription(*, idempotency_key: str | None = None) -> Call:
        return Call("POST", f"{API_PREFIX}/subscription/renew", headers=_idempotency(idempotency_key))

    @staticmethod
    def cancel_subscription() -> Call:
        return Call("DELETE", f"{API_PREFIX}/subscription")

    @staticmethod
    def create_api_key(name: str, scope: str | None = None) -> Call:
        body = {"name": name} if name else {}
        if scope:
            body["scope"] = scope
        return Call("POST", f"{API_PREFIX}/api-keys", json=body or None)

    @staticmethod
    def api_keys() -> Call:
        return Call("GET", f"{API_PREFIX}/api-keys")

    @staticmethod
    def revoke_api_key(key_id: str) -> Call:
        return Call("DELETE", f"{API_PREFIX}/api-keys/{key_id}")

    @staticmethod
    def ready() -> Call:
        return Call("GET", f"{API_PREFIX}/health/ready")


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the typed :class:`APIError` for a 4xx/5xx response (its body must have been read)."""
    if response.status_code >= 400:
        raise error_from_response(response)


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful response."""
    raise_for_problem(response)
    try:
        body = response.json()
    except ValueError as exc:
        raise BgRemoverClientError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code} "
            "with a body that is not JSON",
            status=response.status_code,
            code="invalid_response",
        ) from exc
    if not isinstance(body, dict):
        raise BgRemoverClientError("expected a JSON object", status=response.status_code, code="invalid_response")
    return body


def download_target(dest: str | os.PathLike[str], response: httpx.Response, fallback: str) -> Path:
    """Where to write a download: ``dest`` itself, or inside it (named by ``Content-Disposition``)
    when ``dest`` is an existing folder or ends with a path separator."""
    raw = os.fspath(dest)
    path = Path(raw)
    if path.is_dir() or raw.endswith(("/", os.sep)):
        name = filename_from_disposition(response.headers.get("content-disposition")) or safe_name(fallback)
        return path / name
    return path


def transport_error(exc: httpx.HTTPError, base_url: str) -> BgRemoverClientError:
    """A :class:`TransportError` that says which URL could not be reached and why."""
    from bgremover_client._errors import TransportError

    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    reason = str(exc) or type(exc).__name__
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport_error"
    return TransportError(f"Request to {base_url} {kind}: {reason}", code=code)


ProgressCallback = Callable[[T], object]


LONG_POLL_S = 25.0
"""How long one long poll may be held by the server (it caps ``wait`` at 30 s); below the 60 s read timeout."""

BATCH_PROGRESS_POLL_S = 2.0
"""With ``on_progress``, a batch's long poll comes back this often to report progress."""


def long_poll_for(timeout: httpx.Timeout) -> float:
    """The longest long poll that a client with this timeout can wait for without timing out itself."""
    read = timeout.read
    return LONG_POLL_S if read is None else max(0.0, min(LONG_POLL_S, read - 5.0))


class Poller(Generic[T]):
    """``wait()`` as a state machine: ask :meth:`call` what to send, :meth:`feed` the response.

    Each call is a long poll (``?wait=``): the server answers as soon as the job or batch is final, so
    the result is known without polling delay and a long job costs one request every ``long_poll``
    seconds. :meth:`feed` returns the seconds to sleep before the next call, or None once :attr:`result`
    is final. It honours ``Retry-After`` (0 after a long poll; a server without long polls says 1, and
    then this is plain polling), falling back to ``interval``, capped at ``max_interval``; sends the last
    ETag as ``If-None-Match`` and treats ``304 Not Modified`` as "unchanged", calls ``on_progress`` with
    every changed state, and raises :class:`WaitTimeout` once ``timeout`` seconds have passed.
    """

    def __init__(
        self,
        target: T,
        *,
        timeout: float | None = 600.0,
        interval: float = 1.0,
        max_interval: float = 10.0,
        on_progress: Callable[[T], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        long_poll: float = LONG_POLL_S,
    ) -> None:
        self.result: T = target
        self._long_poll = long_poll
        self._seen: T | None = None
        self._interval = interval
        self._max_interval = max_interval
        self._on_progress: Callable[[T], object] | None = on_progress
        self._clock = clock
        self._deadline = None if timeout is None else clock() + timeout
        self._timeout = timeout
        self.requests = 0
        self.not_modified = 0

    def call(self) -> Call:
        """The next request: ``GET /jobs/{id}?wait=`` (conditional once an ETag is known) or
        ``GET /batches/{id}?wait=``."""
        wait = self._long_poll
        if isinstance(self.result, Batch) and self._on_progress is not None:
            wait = min(wait, BATCH_PROGRESS_POLL_S)
        if self._deadline is not None:
            wait = min(wait, max(0.0, self._deadline - self._clock()))
        if isinstance(self.result, Job):
            return Endpoints.job(self.result, etag=self.result.etag, wait=wait)
        return Endpoints.batch(self.result, wait=wait)

    def feed(self, response: httpx.Response) -> float | None:
        """Take the response of :meth:`call`; None when done, else how long to sleep."""
        self.requests += 1
        if response.status_code == 304:
            self.not_modified += 1
        else:
            body = json_body(response)
            if isinstance(self.result, Job):
                self.result = Job.from_api(body, etag=response.headers.get("etag"))
            else:
                self.result = Batch.from_api(body)
            if self._on_progress is not None and self.result != self._seen:
                self._on_progress(self.result)
            self._seen = self.result
        if self.result.is_final:
            return None
        delay = parse_retry_after(response.headers.get("retry-after"))
        delay = min(self._interval if delay is None else max(delay, 0.05), self._max_interval)
        if self._deadline is not None:
            left = self._deadline - self._clock()
            if left <= 0:
                kind = "job" if isinstance(self.result, Job) else "batch"
                raise WaitTimeout(
                    f"The {kind} {self.result.id} is still {self.result.status} after {self._timeout:g}s.", self.result
                )
            delay = min(delay, left)
        return delay


__all__ = [
    "API_KEY_ENV",
    "API_PREFIX",
    "DEFAULT_URL",
    "TOKEN_ENV",
    "URL_ENV",
    "APIError",
    "Call",
    "Endpoints",
    "Poller",
    "ProgressCallback",
    "download_target",
    "json_body",
    "long_poll_for",
    "raise_for_problem",
    "resolve_base_url",
    "resolve_credentials",
    "resolve_token",
    "transport_error",
]
