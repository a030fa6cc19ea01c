"""Resolving a webhook's host: on few threads with a deadline, one lookup per user at a time
(:class:`DnsLookups`), and :func:`check_webhook_target`, the syntax check plus the addresses."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.errors import InvalidWebhookUrl, WebhookLookupBusy
from core.webhooks._addresses import DEFAULT_PORTS, IPAddress, _parse, _refuse_private, _Target

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
        self._released: dict[str, asyncio.Event] = {}
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

    async def _own_turn(self, user_id: str) -> None:
        """Until the user's lookup in flight (if any) has its thread back: a worker delivering several of
        one user's webhooks at once resolves them one after another instead of failing all but one."""
        while user_id in self._holders:
            released = self._released.setdefault(user_id, asyncio.Event())
            await released.wait()

    async def resolve(self, target: _Target, user_id: str, *, wait_own_turn: bool = False) -> list[IPAddress]:
        """The host's addresses. ``wait_own_turn``: a lookup of the same user's in flight is waited for
        (the caller bounds the wait) instead of ``WebhookLookupBusy``."""
        if target.ip is not None:
            return [target.ip]
        if wait_own_turn:
            await self._own_turn(user_id)
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
            released = self._released.pop(user_id, None)
            if released is not None:
                released.set()
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
