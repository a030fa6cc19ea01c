"""Which webhook targets are acceptable as written: scheme, port, host name and IP literal, and the
addresses that are never a webhook's (private, local, metadata, reserved), so the service cannot be
turned into a proxy into its own network (SSRF)."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

from core.errors import BgRemoverError, InvalidWebhookUrl

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = frozenset({80, 443})
"""Ports a webhook may target unless ``WEBHOOK_ALLOWED_PORTS`` says otherwise."""

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


def is_local_name(host: str) -> bool:
    """A name that never leaves the machine or the local network, whatever a resolver would answer."""
    return host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host  # single labels hit search domains


def _parse(
    url: str,
    *,
    allow_private: bool,
    allowed_ports: frozenset[int] | None = DEFAULT_PORTS,
    label: str = "webhook URL",
    error: type[BgRemoverError] = InvalidWebhookUrl,
) -> _Target:
    """``url`` checked as written; ``label`` names it in messages (``image_url``), ``error`` is raised."""
    if not isinstance(url, str) or not url:
        raise error(f"{label} must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise error(f"{label} is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise error(f"{label} contains whitespace or control characters")
    try:
        # The same parser the delivery uses, so the host checked here is the host connected to.
        parsed = httpx.URL(url)
        raw_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise error(f"{label} is malformed: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise error(f"{label} must use http or https")
    if parsed.userinfo:
        raise error(f"{label} must not contain a user name or password")
    if not raw_host:
        raise error(f"{label} has no host")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise error(f"{label} port must be between 1 and 65535")
    if allowed_ports is not None and port not in allowed_ports:
        raise error(
            f"{label} port {port} is not allowed; use one of {', '.join(map(str, sorted(allowed_ports)))}",
            port=port,
            allowedPorts=sorted(allowed_ports),
        )

    host = raw_host.lower()
    if host.endswith("."):  # the fully-qualified spelling names the same host
        host = host[:-1]
    ip = _literal_ip(host)
    if ip is None:
        if not _HOSTNAME_RE.fullmatch(host) or len(host) > 253:
            raise error(f"{label} host is not a valid host name")
        if not allow_private and is_local_name(host):
            raise error(f"{label} must point at a public host")
    elif not allow_private and not _is_public(ip):
        raise error(f"{label} must point at a public address")
    return _Target(url=parsed, host=host, port=port, ip=ip)


def validate_webhook_url(url: str, *, allow_private: bool, allowed_ports: frozenset[int] | None = DEFAULT_PORTS) -> str:
    """Return ``url`` if it is an acceptable webhook target as written; raise :class:`InvalidWebhookUrl`.

    Checks syntax and any IP literal (in every notation a resolver accepts) without I/O; a host name is
    only refused when it is local by name. :func:`check_webhook_target` also resolves the name.
    """
    _parse(url, allow_private=allow_private, allowed_ports=allowed_ports)
    return url


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is on the public internet (not private, local, metadata, reserved, …)."""
    return _is_public(ip)


def _refuse_private(addresses: list[IPAddress]) -> None:
    # Every address must be public: a resolver may hand out any of them, in any order.
    # The address itself is not named: it would map the service's internal network for the caller.
    if any(not _is_public(ip) for ip in addresses):
        raise InvalidWebhookUrl("webhook URL host resolves to a private or local address")
