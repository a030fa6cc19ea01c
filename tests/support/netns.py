"""Separate hosts on one machine: network namespaces joined by a bridge in the root namespace.

Each host has its own network stack (its own loopback, one veth into the bridge, a default route via
the bridge), so a process in it reaches PostgreSQL, Redis and S3 only over the virtual network, at the
addresses the test forwards them to. ``cut()`` takes a host's link down: the host is gone, for the
others, as if its cable were pulled. Everything is deleted at the end, also when the test fails.
Needs root (``ip netns``); :func:`unavailable` says why it cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def unavailable() -> str | None:
    """Why network namespaces cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "building network namespaces needs root (CI runs as root)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"bgprobe{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` is not allowed here: {exc.stderr.strip()}"
    _ip("netns", "delete", probe)
    return None


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str
    link: str
    """The veth end in the root namespace: down = this host is cut off."""

    @property
    def prefix(self) -> tuple[str, ...]:
        """Prepended to a command, runs it on this host."""
        return ("ip", "netns", "exec", self.namespace)

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def kill_all(self) -> None:
        """SIGKILL every process on this host (a power cut)."""
        found = subprocess.run(["ip", "netns", "pids", self.namespace], capture_output=True, text=True, check=False)
        for pid in found.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@dataclass(frozen=True)
class Network:
    gateway: str
    """The root namespace's address on the bridge: where the hosts reach the shared services."""
    hosts: list[Host]


@contextlib.contextmanager
def virtual_network(count: int) -> Iterator[Network]:
    tag = uuid.uuid4().hex[:6]
    subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
    bridge = f"bgbr{tag}"
    hosts = [Host(f"bgns{tag}{i}", f"{subnet}.{i + 2}", f"bgv{tag}{i}") for i in range(count)]
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i, host in enumerate(hosts):
            peer = f"bgp{tag}{i}"
            _ip("netns", "add", host.namespace)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", host.namespace)
            _ip("link", "set", host.link, "master", bridge)
            _ip("link", "set", host.link, "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", peer)
            _ip("-n", host.namespace, "link", "set", peer, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            _ip("-n", host.namespace, "route", "add", "default", "via", f"{subnet}.1")
        yield Network(f"{subnet}.1", hosts)
    finally:
        for host in hosts:
            host.kill_all()
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "delete", host.namespace)
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("link", "delete", host.link)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "delete", bridge)
