"""One delivery attempt, bounded in time, and the retry schedule."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from core.errors import InvalidWebhookUrl, WebhookLookupBusy
from core.webhooks._addresses import IPAddress, _parse, _refuse_private, _Target
from core.webhooks._dns import DnsLookups, _resolve
from core.webhooks._signing import headers_for

MAX_ATTEMPTS = 8
CONNECT_TIMEOUT_S = 3.0
"""Per address tried; the whole attempt is bounded separately by ``deliver``'s ``timeout_s``."""
_BACKOFF_BASE_S = 5
_BACKOFF_CAP_S = 3600


def event_payload(
    kind: Literal["job.finished", "batch.finished"],
    data: dict[str, Any],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The event body: ``{"type": kind, "timestamp": <ISO-8601 UTC>, "data": data}``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {"type": kind, "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), "data": data}


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one delivery attempt achieved and whether trying again could help."""

    ok: bool
    status_code: int | None
    error: str | None
    retryable: bool


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): 5, 10, 20, … capped at one hour.

    With ``rng``, up to 10 % is added so that many deliveries failing together do not retry in lockstep.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    delay = min(_BACKOFF_BASE_S << min(attempt - 1, 20), _BACKOFF_CAP_S)
    if rng is not None:
        delay += int(delay * 0.1 * rng.random())
    return min(delay, _BACKOFF_CAP_S)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(status: int) -> DeliveryResult:
    if 200 <= status < 300:
        return DeliveryResult(ok=True, status_code=status, error=None, retryable=False)
    if status == 410:
        return DeliveryResult(ok=False, status_code=status, error="HTTP 410: the receiver is gone", retryable=False)
    if status in (408, 429) or 500 <= status < 600:
        return DeliveryResult(ok=False, status_code=status, error=f"HTTP {status}", retryable=True)
    if 300 <= status < 400:
        return DeliveryResult(
            ok=False, status_code=status, error=f"HTTP {status}: redirects are not followed", retryable=False
        )
    return DeliveryResult(ok=False, status_code=status, error=f"HTTP {status}", retryable=False)


async def send_pinned(
    client: httpx.AsyncClient,
    method: str,
    target: _Target,
    addresses: list[IPAddress],
    *,
    headers: dict[str, str],
    content: bytes | None = None,
) -> httpx.Response:
    """Send to the first of ``addresses`` that accepts a connection; the response is streamed (unread).

    Connecting to the address that was checked, rather than letting the client resolve the name again,
    is what stops DNS rebinding (a second lookup could answer a private address). The Host header and
    TLS SNI keep the name, so virtual hosting and certificate verification work as usual. Redirects are
    never followed here. Raises the last connection error when no address answers.
    """
    last_error: Exception | None = None
    for ip in addresses:
        extensions: dict[str, Any] = {}
        if target.ip is None and target.url.scheme == "https":
            extensions["sni_hostname"] = target.host
        request = client.build_request(
            method,
            target.url.copy_with(host=str(ip)),
            content=content,
            headers={**headers, "host": target.url.netloc.decode("ascii")},
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last_error = exc  # try the next address, as a client's own happy-eyeballs would
    assert last_error is not None
    raise last_error


async def _post(
    client: httpx.AsyncClient, target: _Target, addresses: list[IPAddress], body: bytes, headers: dict[str, str]
) -> int:
    response = await send_pinned(client, "POST", target, addresses, headers=headers, content=body)
    # The body is never read: the status is all that matters, and a receiver cannot make us download much.
    await response.aclose()
    return response.status_code


async def deliver(
    url: str,
    event: dict[str, Any],
    *,
    secret: str,
    msg_id: str,
    allow_private: bool,
    allowed_ports: frozenset[int] | None = None,
    also_sign_with: Sequence[str] = (),
    timeout_s: float = 5.0,
    client: httpx.AsyncClient | None = None,
    lookups: DnsLookups | None = None,
    user_id: str = "",
) -> DeliveryResult:
    """POST ``event``, signed, to ``url`` once; never raises for network errors.

    ``msg_id`` should stay the same across retries of one event so receivers can deduplicate. The target
    is checked again here, since DNS may have changed since the URL was accepted, and the connection goes
    to the checked address; ``allowed_ports`` is the operator's ``WEBHOOK_ALLOWED_PORTS`` (the worker passes
    it; None: any port). Redirects are not followed. ``timeout_s`` bounds the whole attempt (DNS,
    every address tried, sending, the status line): a slow receiver costs at most that much.

    With ``lookups`` the host is resolved there on behalf of ``user_id`` (one lookup per user at once, the
    user's other deliveries waiting their turn within the attempt's deadline; failures remembered
    briefly), so one user's silent name server cannot hold every delivery's lookup; a lookup refused or
    failed is a retryable failure.
    """
    body = json.dumps(event, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
    try:
        target = _parse(url, allow_private=allow_private, allowed_ports=allowed_ports)
    except InvalidWebhookUrl as exc:
        return DeliveryResult(ok=False, status_code=None, error=exc.detail, retryable=False)

    own_client = client is None
    http = client or httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)), trust_env=False
    )
    try:
        async with asyncio.timeout(timeout_s):
            try:
                addresses = await (
                    lookups.resolve(target, user_id, wait_own_turn=True) if lookups is not None else _resolve(target)
                )
            except (OSError, UnicodeError, WebhookLookupBusy) as exc:
                # Unlike at submission time, a failed or refused lookup here may be a passing DNS outage or a
                # busy pool: the next attempt may get through.
                return DeliveryResult(ok=False, status_code=None, error=f"cannot resolve host: {exc}", retryable=True)
            if not allow_private:
                try:
                    _refuse_private(addresses)
                except InvalidWebhookUrl as exc:
                    return DeliveryResult(ok=False, status_code=None, error=exc.detail, retryable=False)
            headers = headers_for(secret, msg_id, int(time.time()), body, also_sign_with=also_sign_with)
            status = await _post(http, target, addresses, body, headers)
    except TimeoutError:
        return DeliveryResult(ok=False, status_code=None, error=f"timed out after {timeout_s:g} s", retryable=True)
    except (httpx.HTTPError, OSError) as exc:
        return DeliveryResult(ok=False, status_code=None, error=_describe(exc), retryable=True)
    finally:
        if own_client:
            await http.aclose()
    return _classify(status)
