"""Fetching the images clients name by URL (``image_url``, ``bg_image_url``) without becoming a proxy
into the service's own network (SSRF), on the model of rembg's fix for GHSA-55v6-g8pm-pw4c.

* ``http`` and ``https`` only, ports 80 and 443 unless ``IMAGE_URL_ALLOWED_PORTS`` says otherwise, no
  user name or password in the URL;
* the host is resolved once and the connection goes to the address that was checked (no DNS
  rebinding); loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved and
  unspecified addresses are refused, IPv6 included (ULA, IPv4-mapped, NAT64), unless
  ``IMAGE_URL_ALLOW_HOSTS`` lists the host or a network holding the address;
* at most :data:`MAX_REDIRECTS` redirects, each target checked like the first; no cookies are kept or
  sent and nothing of the caller's credentials is forwarded;
* the size cap is enforced from ``Content-Length`` and again while the body arrives, and the whole
  fetch has one deadline (``IMAGE_URL_TIMEOUT_S``).

Failures are :class:`~core.errors.ImageUrlRefused`, :class:`~core.errors.ImageUrlUnreachable` and
:class:`~core.errors.ImageUrlTooLarge`; their messages never name an address the host resolved to.
The bytes are returned as they came: the caller sniffs and probes them like an upload.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import unquote

import httpx

from core.errors import ImageUrlRefused, ImageUrlTooLarge, ImageUrlUnreachable
from core.settings import Settings
from core.webhooks._addresses import _HOSTNAME_RE, IPAddress, _parse, _Target, is_local_name, is_public
from core.webhooks._delivery import send_pinned
from core.webhooks._dns import DnsLookups, _resolve

MAX_REDIRECTS = 5
CONNECT_TIMEOUT_S = 5.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str | None
    filename: str
    """The last path segment of the URL the client gave (``image`` when it has none)."""


@dataclass(frozen=True)
class AllowList:
    """``IMAGE_URL_ALLOW_HOSTS``: names allowed whatever they resolve to, networks whose addresses are allowed."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> AllowList:
        names: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip().lower() for e in raw.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if _HOSTNAME_RE.fullmatch(entry.rstrip(".")) is None:
                raise ValueError(f"IMAGE_URL_ALLOW_HOSTS: {entry!r} is not a host name, an IP address or a CIDR")
            names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


class ImageUrlFetcher:
    """One per API process; :meth:`fetch` is safe to call concurrently."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_s: float,
        allow: AllowList | None = None,
        allowed_ports: frozenset[int] | None = frozenset({80, 443}),
        lookups: DnsLookups | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.allow = allow or AllowList()
        self.allowed_ports = allowed_ports
        self.lookups = lookups
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, lookups: DnsLookups | None = None) -> ImageUrlFetcher:
        """Raises ValueError for a malformed ``IMAGE_URL_ALLOW_HOSTS`` or ``IMAGE_URL_ALLOWED_PORTS``."""
        return cls(
            max_bytes=settings.max_image_bytes,
            timeout_s=settings.image_url_timeout_s,
            allow=AllowList.parse(settings.image_url_allow_hosts),
            allowed_ports=settings.image_url_ports,
            lookups=lookups,
        )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # a policy that accepts no domain: a response's cookies are never kept, so never sent on
            jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
                trust_env=False,  # no proxy or .netrc credentials from the environment
                follow_redirects=False,
                cookies=jar,  # the jar itself: httpx.Cookies would be copied into a default jar
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, *, user_id: str, field: str = "image_url") -> FetchedImage:
        """The bytes at ``url``, fetched under every rule of this module, on behalf of ``user_id`` (one
        DNS lookup of theirs at a time); ``field`` names the parameter in errors."""
        target = self._check(url, field)
        filename = _filename(target.url)
        try:
            async with asyncio.timeout(self.timeout_s):
                for _hop in range(MAX_REDIRECTS + 1):
                    addresses = await self._addresses(target, field, user_id)
                    response = await self._connect(target, addresses, field)
                    try:
                        if response.status_code in _REDIRECTS and "location" in response.headers:
                            target = self._check(str(target.url.join(response.headers["location"])), field, hop=True)
                            continue
                        if not 200 <= response.status_code < 300:
                            raise ImageUrlUnreachable(
                                f"{field}: the server answered HTTP {response.status_code}", field=field
                            )
                        data = await self._read(response, field)
                    finally:
                        await response.aclose()
                    return FetchedImage(data, response.headers.get("content-type"), filename)
        except TimeoutError:
            raise ImageUrlUnreachable(
                f"{field}: the image did not arrive within {self.timeout_s:g} s", field=field
            ) from None
        raise ImageUrlRefused(f"{field}: more than {MAX_REDIRECTS} redirects", field=field)

    def _check(self, url: str, field: str, *, hop: bool = False) -> _Target:
        where = f"{field} redirects to a URL that" if hop else field
        try:
            target = _parse(
                url, allow_private=True, allowed_ports=self.allowed_ports, label=field, error=ImageUrlRefused
            )
        except ImageUrlRefused as exc:
            raise ImageUrlRefused(exc.detail, field=field, **exc.extra) from None
        if target.host in self.allow.names:
            return target
        if target.ip is not None and not is_public(target.ip) and not self.allow.allows(target.ip):
            raise ImageUrlRefused(f"{where} points at a private or local address", field=field)
        if target.ip is None and is_local_name(target.host):
            raise ImageUrlRefused(f"{where} points at a local host name", field=field)
        return target

    async def _addresses(self, target: _Target, field: str, user_id: str) -> list[IPAddress]:
        try:
            if self.lookups is not None:
                addresses = await self.lookups.resolve(target, user_id)
            else:
                addresses = await _resolve(target)
        except (OSError, UnicodeError):
            raise ImageUrlUnreachable(f"{field}: the host {target.host!r} cannot be resolved", field=field) from None
        if target.host not in self.allow.names and any(
            not is_public(ip) and not self.allow.allows(ip) for ip in addresses
        ):
            # every address must pass: a resolver may hand out any of them; which one failed is not said
            raise ImageUrlRefused(f"{field}: the host resolves to a private or local address", field=field)
        return addresses

    async def _connect(self, target: _Target, addresses: list[IPAddress], field: str) -> httpx.Response:
        headers = {"accept": "image/*", "accept-encoding": "identity", "user-agent": "bgremover-image-fetch/1"}
        try:
            return await send_pinned(self._http(), "GET", target, addresses, headers=headers)
        except httpx.HTTPError:
            raise ImageUrlUnreachable(f"{field}: could not connect to {target.host!r}", field=field) from None

    async def _read(self, response: httpx.Response, field: str) -> bytes:
        cap_mb = f"{self.max_bytes / 1_000_000:g} MB"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ImageUrlTooLarge(f"{field}: the image is larger than {cap_mb}", field=field, maxBytes=self.max_bytes)
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes(_CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise ImageUrlTooLarge(
                        f"{field}: the image is larger than {cap_mb}", field=field, maxBytes=self.max_bytes
                    )
        except httpx.HTTPError:
            raise ImageUrlUnreachable(f"{field}: the connection broke while the image arrived", field=field) from None
        return bytes(body)


def _filename(url: httpx.URL) -> str:
    last = unquote(url.path.rstrip("/").rsplit("/", 1)[-1])
    return last[:200] or "image"
