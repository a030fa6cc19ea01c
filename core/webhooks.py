"""Outgoing webhooks: target validation, Standard Webhooks signing, one delivery attempt, retry schedule.

When a job or batch finishes, a worker POSTs :func:`event_payload` to the user's ``webhook_url`` with
:func:`deliver`, and on a retryable failure tries again after :func:`backoff_seconds`, up to
:data:`MAX_ATTEMPTS` attempts. The pieces:

* :func:`validate_webhook_url` (syntax, no I/O) and :func:`check_webhook_target` (plus DNS) refuse
  anything but a public ``http``/``https`` target, so the service cannot be turned into a proxy
  into its own network (SSRF). ``allow_private`` lifts the address check for local testing.
* :func:`sign`, :func:`headers_for` and :func:`verify` implement https://www.standardwebhooks.com/
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``). Each user
  has their own secret (``db.webhook_secrets``); :func:`fingerprint` names one without revealing it.
* :func:`deliver` makes one attempt, bounded in time as a whole, and reports a :class:`DeliveryResult`;
  it never raises for network trouble.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import json
import random
import re
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from core.errors import InvalidWebhookUrl, WebhookLookupBusy

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_URL_LENGTH",
    "DeliveryResult",
    "DnsLookups",
    "backoff_seconds",
    "check_webhook_target",
    "deliver",
    "event_payload",
    "fingerprint",
    "generate_secret",
    "headers_for",
    "sign",
    "validate_webhook_url",
    "verify",
]

MAX_ATTEMPTS = 8
MAX_URL_LENGTH = 2048
USER_AGENT = "bgremover-webhooks/1"
SECRET_PREFIX = "whsec_"
ROTATION_GRACE_S = 24 * 3600
"""After a rotation the previous secret keeps signing, beside the new one, for this long."""
DEFAULT_PORTS = frozenset({80, 443})
"""Ports a webhook may target unless ``WEBHOOK_ALLOWED_PORTS`` says otherwise."""
CONNECT_TIMEOUT_S = 3.0
"""Per address tried; the whole attempt is bounded separately by ``deliver``'s ``timeout_s``."""

_BACKOFF_BASE_S = 5
_BACKOFF_CAP_S = 3600

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Explicit, so the verdict does not depend on which 3.11.x patch release's ``is_global`` table is installed.
_BLOCKED_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT: the provider's side of the network, not the internet
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, home of the cloud metadata endpoint 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible block
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fe80::/10",
        "fec0::/10",  # deprecated site-local, still routed inside some networks
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Names that never leave the machine or the local network, whatever a resolver would answer.
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")
_HOSTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# Shapes that inet_aton (and therefore getaddrinfo, curl, browsers) reads as an IPv4 address although
# ``ipaddress`` does not: 2130706433, 127.1, 0x7f.0.0.1, 0177.0.0.1.
_LOOSE_IPV4_RE = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


# --- target validation -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    url: httpx.URL
    host: str  # ASCII (IDNA) host, lower case, trailing dot removed; an IPv6 literal without brackets
    port: int
    ip: IPAddress | None  # set when the host is an IP literal


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one reaches that IPv4 host, so judge that instead.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
        ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])  # drop a zone id
    if any(ip in net for net in _BLOCKED_NETWORKS if net.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local or ip.is_unspecified
    )


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LOOSE_IPV4_RE.fullmatch(host):
        try:
            # inet_aton only parses; it never touches the network.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _parse(url: str, *, allow_private: bool, allowed_ports: frozenset[int] | None = DEFAULT_PORTS) -> _Target:
    if not isinstance(url, str) or not url:
        raise InvalidWebhookUrl("webhook URL must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidWebhookUrl("webhook URL contains whitespace or control characters")
    try:
        # The same parser the delivery uses, so the host checked here is the host connected to.
        parsed = httpx.URL(url)
        raw_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise InvalidWebhookUrl(f"webhook URL is malformed: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise InvalidWebhookUrl("webhook URL must use http or https")
    if parsed.userinfo:
        raise InvalidWebhookUrl("webhook URL must not contain a user name or password")
    if not raw_host:
        raise InvalidWebhookUrl("webhook URL has no host")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise InvalidWebhookUrl("webhook URL port must be between 1 and 65535")
    if allowed_ports is not None and port not in allowed_ports:
        raise InvalidWebhookUrl(
            f"webhook URL port {port} is not allowed; use one of {', '.join(map(str, sorted(allowed_ports)))}",
            port=port,
            allowedPorts=sorted(allowed_ports),
        )

    host = raw_host.lower()
    if host.endswith("."):  # the fully-qualified spelling names the same host
        host = host[:-1]
    ip = _literal_ip(host)
    if ip is None:
        if not _HOSTNAME_RE.fullmatch(host) or len(host) > 253:
            raise InvalidWebhookUrl("webhook URL host is not a valid host name")
        if not allow_private and (
            host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host  # single labels hit search domains
        ):
            raise InvalidWebhookUrl("webhook URL must point at a public host")
    elif not allow_private and not _is_public(ip):
        raise InvalidWebhookUrl("webhook URL must point at a public address")
    return _Target(url=parsed, host=host, port=port, ip=ip)


def validate_webhook_url(url: str, *, allow_private: bool, allowed_ports: frozenset[int] | None = DEFAULT_PORTS) -> str:
    """Return ``url`` if it is an acceptable webhook target as written; raise :class:`InvalidWebhookUrl`.

    Checks syntax and any IP literal (in every notation a resolver accepts) without I/O; a host name is
    only refused when it is local by name. :func:`check_webhook_target` also resolves the name.
    """
    _parse(url, allow_private=allow_private, allowed_ports=allowed_ports)
    return url


# Lookups run on their own few threads with a deadline: a slow or hostile name server then stalls
# at most these threads, never the pool that writes uploads, and never a request for long.
DNS_TIMEOUT_S = 2.0
_DNS_THREADS = 4
_dns_pool: ThreadPoolExecutor | None = None


def _dns_executor() -> ThreadPoolExecutor:
    global _dns_pool
    if _dns_pool is None:
        _dns_pool = ThreadPoolExecutor(max_workers=_DNS_THREADS, thread_name_prefix="dns")
    return _dns_pool


async def _getaddrinfo(host: str, port: int, *, type: int) -> list[tuple[Any, ...]]:
    call = functools.partial(socket.getaddrinfo, host, port, type=type)
    return await asyncio.get_running_loop().run_in_executor(_dns_executor(), call)


def _addresses(infos: list[tuple[Any, ...]]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no addresses")
    return addresses


async def _resolve(target: _Target) -> list[IPAddress]:
    if target.ip is not None:
        return [target.ip]
    try:
        infos = await asyncio.wait_for(_getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), DNS_TIMEOUT_S)
    except TimeoutError as exc:
        raise OSError(f"no DNS answer within {DNS_TIMEOUT_S:g} s") from exc
    return _addresses(infos)


def _system_lookup(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


Lookup = Callable[[str, int], list[tuple[Any, ...]]]
"""A blocking name lookup answering like :func:`socket.getaddrinfo`."""


class DnsLookups:
    """Webhook host lookups at submission time, shared fairly between users.

    A user has at most one lookup on the threads, from its start until its thread is free again (not
    until the request stops waiting for it: a name server that never answers keeps the thread), so one
    user holds at most one of the ``threads``; a second lookup of theirs meanwhile, or any lookup while
    every thread is taken, is ``429 webhook_lookup_busy`` at once instead of queueing behind them. A
    host whose lookup failed or timed out is refused for ``negative_ttl_s`` without asking again.
    """

    _MAX_REMEMBERED = 4096

    def __init__(
        self,
        *,
        threads: int,
        negative_ttl_s: float,
        timeout_s: float = DNS_TIMEOUT_S,
        lookup: Lookup | None = None,
    ) -> None:
        self.threads = max(1, threads)
        self.negative_ttl_s = negative_ttl_s
        self.timeout_s = timeout_s
        self._lookup = lookup or _system_lookup
        self._pool: ThreadPoolExecutor | None = None
        self._holders: set[str] = set()
        self._failed: dict[str, float] = {}

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="webhook-dns")
        return self._pool

    def _remember_failure(self, host: str) -> None:
        now = time.monotonic()
        if len(self._failed) >= self._MAX_REMEMBERED:
            self._failed = {h: t for h, t in self._failed.items() if t > now}
            if len(self._failed) >= self._MAX_REMEMBERED:
                self._failed.clear()
        self._failed[host] = now + self.negative_ttl_s

    def _claim(self, user_id: str) -> None:
        if user_id in self._holders:
            raise WebhookLookupBusy(
                "A lookup of your webhook host is still running (its name server is slow); retry in a few seconds.",
                retry_after=2,
            )
        if len(self._holders) >= self.threads:
            raise WebhookLookupBusy("Every webhook host lookup is busy; retry in a few seconds.", retry_after=2)
        self._holders.add(user_id)

    async def resolve(self, target: _Target, user_id: str) -> list[IPAddress]:
        if target.ip is not None:
            return [target.ip]
        until = self._failed.get(target.host)
        if until is not None:
            if until > time.monotonic():
                raise OSError("its lookup failed a moment ago")
            del self._failed[target.host]
        self._claim(user_id)
        loop = asyncio.get_running_loop()
        try:
            running = loop.run_in_executor(self._executor(), self._lookup, target.host, target.port)
        except BaseException:
            self._holders.discard(user_id)
            raise

        def finished(done: asyncio.Future[list[tuple[Any, ...]]]) -> None:
            self._holders.discard(user_id)
            if not done.cancelled():
                done.exception()  # retrieved: an abandoned lookup's error is not "never retrieved"

        running.add_done_callback(finished)
        try:
            # shielded: a timeout or a gone client stops the waiting, not the claim on the thread
            infos = await asyncio.wait_for(asyncio.shield(running), self.timeout_s)
            return _addresses(infos)
        except TimeoutError as exc:
            self._remember_failure(target.host)
            raise OSError(f"no DNS answer within {self.timeout_s:g} s") from exc
        except (OSError, UnicodeError):
            self._remember_failure(target.host)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _refuse_private(addresses: list[IPAddress]) -> None:
    # Every address must be public: a resolver may hand out any of them, in any order.
    # The address itself is not named: it would map the service's internal network for the caller.
    if any(not _is_public(ip) for ip in addresses):
        raise InvalidWebhookUrl("webhook URL host resolves to a private or local address")


async def check_webhook_target(
    url: str,
    *,
    allow_private: bool,
    allowed_ports: frozenset[int] | None = DEFAULT_PORTS,
    lookups: DnsLookups | None = None,
    user_id: str = "",
) -> None:
    """Validate ``url`` like :func:`validate_webhook_url`, then resolve it and refuse non-public addresses.

    With ``lookups`` the name is resolved there, on behalf of ``user_id`` (one lookup per user at once)."""
    target = _parse(url, allow_private=allow_private, allowed_ports=allowed_ports)
    try:
        addresses = await (lookups.resolve(target, user_id) if lookups is not None else _resolve(target))
    except (OSError, UnicodeError) as exc:
        raise InvalidWebhookUrl(f"webhook URL: cannot resolve host {target.host!r}") from exc
    if not allow_private:
        _refuse_private(addresses)


# --- signing ---------------------------------------------------------------------------------------


def generate_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise ValueError("webhook secret after 'whsec_' is not valid base64") from exc
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}``."""
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def fingerprint(secret: str) -> str:
    """A short name for a secret that reveals nothing of it: the first 16 hex digits of its SHA-256.

    Shown by the API instead of the secret, so a user can tell which secret their receiver holds.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def headers_for(
    secret: str, msg_id: str, timestamp: int, body: bytes, *, also_sign_with: Sequence[str] = ()
) -> dict[str, str]:
    """Every header a delivery carries, signature included.

    ``also_sign_with`` adds a signature per extra secret (space-separated, as the standard allows):
    during a rotation a receiver still holding the previous secret keeps verifying.
    """
    signatures = [sign(key, msg_id, timestamp, body) for key in (secret, *also_sign_with)]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """True if ``headers`` carry a valid, fresh signature of ``body``.

    Header names are matched case-insensitively; the signature header may list several space-separated
    signatures (secret rotation) and one match suffices. A timestamp more than ``tolerance_s`` away from
    ``now`` in either direction is refused, which bounds replays. Malformed headers give False; only a
    malformed ``whsec_`` secret raises :class:`ValueError`.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_ts = lowered.get("webhook-timestamp")
    raw_sigs = lowered.get("webhook-signature")
    if not msg_id or not raw_ts or not raw_sigs:
        return False
    try:
        timestamp = int(raw_ts)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    matched = False
    for candidate in raw_sigs.split():
        # Keep comparing after a match so the time taken does not reveal which signature matched.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    return matched


# --- events, delivery, retries ---------------------------------------------------------------------


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


async def _post(
    client: httpx.AsyncClient, target: _Target, addresses: list[IPAddress], body: bytes, headers: dict[str, str]
) -> int:
    last_error: Exception | None = None
    for ip in addresses:
        # Connect to the address that was checked rather than letting the client resolve the name again:
        # a second lookup could return a private address (DNS rebinding). Host header and TLS SNI keep the
        # name, so virtual hosting and certificate verification work as usual.
        extensions: dict[str, Any] = {}
        if target.ip is None and target.url.scheme == "https":
            extensions["sni_hostname"] = target.host
        request = client.build_request(
            "POST",
            target.url.copy_with(host=str(ip)),
            content=body,
            headers={**headers, "host": target.url.netloc.decode("ascii")},
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last_error = exc  # try the next address, as a client's own happy-eyeballs would
            continue
        # The body is never read: the status is all that matters, and a receiver cannot make us download much.
        await response.aclose()
        return response.status_code
    assert last_error is not None
    raise last_error


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
) -> DeliveryResult:
    """POST ``event``, signed, to ``url`` once; never raises for network errors.

    ``msg_id`` should stay the same across retries of one event so receivers can deduplicate. The target
    is checked again here, since DNS may have changed since the URL was accepted, and the connection goes
    to the checked address; ``allowed_ports`` is the operator's ``WEBHOOK_ALLOWED_PORTS`` (the worker passes
    it; None: any port). Redirects are not followed. ``timeout_s`` bounds the whole attempt (DNS,
    every address tried, sending, the status line): a slow receiver costs at most that much.
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
                addresses = await _resolve(target)
            except (OSError, UnicodeError) as exc:
                # Unlike at submission time, a failed lookup here may be a passing DNS outage.
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
