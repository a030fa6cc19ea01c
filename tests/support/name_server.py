"""A real name server for a process of our own: a tiny UDP DNS server, and a private ``/etc/resolv.conf``.

The API looks webhook hosts up with the C library's resolver, which asks the name servers listed in
``/etc/resolv.conf`` on port 53. :func:`resolving_with` gives a command prefix that runs a process in
its own mount namespace with a resolv.conf naming :class:`NameServer`, so that process really asks it
(nothing is patched, and the machine's own resolv.conf is untouched). The server answers ``A`` queries
from its table, holds the queries of its slow names unanswered (as a dead or hostile name server does,
so the resolver waits out its timeout), and answers ``NXDOMAIN`` for anything else. Needs root
(``unshare --mount``); :func:`unavailable` says why it cannot run here.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import struct
import subprocess
import threading
from collections import Counter
from pathlib import Path

_A, _AAAA = 1, 28


def unavailable() -> str | None:
    """Why a process cannot get a private resolv.conf here, or None when it can."""
    if os.geteuid() != 0:
        return "a private /etc/resolv.conf needs root (unshare --mount); CI runs as root"
    if shutil.which("unshare") is None:
        return "the `unshare` command (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return f"`unshare --mount` is not allowed here: {probe.stderr.strip()}"
    return None


def _question(packet: bytes) -> tuple[str, int, int]:
    """The queried name, type, and the offset where the question ends."""
    labels: list[str] = []
    at = 12
    while packet[at]:
        length = packet[at]
        labels.append(packet[at + 1 : at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    qtype = struct.unpack("!H", packet[at + 1 : at + 3])[0]
    return ".".join(labels).lower(), qtype, at + 5


class NameServer:
    """``answers``: name → IPv4 address; a name starting with one of ``slow`` is never answered."""

    def __init__(self, answers: dict[str, str], slow: tuple[str, ...] = ()) -> None:
        self.answers = answers
        self.slow = slow
        self.address = f"127.53.{random.randint(0, 255)}.{random.randint(1, 254)}"
        self.asked: Counter[str] = Counter()
        """Queries received per name (``A`` and ``AAAA`` alike)."""
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.address, 53))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def queries(self, prefix: str) -> int:
        with self._lock:
            return sum(n for name, n in self.asked.items() if name.startswith(prefix))

    def _answer(self, packet: bytes) -> bytes | None:
        name, qtype, end = _question(packet)
        with self._lock:
            self.asked[name] += 1
        if name.startswith(self.slow) if self.slow else False:
            return None
        query_id = packet[:2]
        question = packet[12:end]
        if name not in self.answers:
            return query_id + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question
        if qtype != _A:  # AAAA and the rest: the name exists, with no such record
            return query_id + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0) + question
        record = struct.pack("!HHHIH", 0xC00C, _A, 1, 0, 4) + socket.inet_aton(self.answers[name])
        return query_id + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question + record

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, client = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self._answer(packet)
            except (IndexError, struct.error):
                continue  # not a query we understand: dropped, like any garbage
            if reply is not None:
                self._sock.sendto(reply, client)

    def __enter__(self) -> NameServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def resolving_with(server: NameServer, conf: Path, *, timeout_s: int = 4) -> tuple[str, ...]:
    """A command prefix: the command runs with ``server`` as its only name server (``conf`` is written
    for it). The resolver waits ``timeout_s`` for an answer and asks once, so an unanswered lookup
    holds its caller that long."""
    conf.write_text(f"nameserver {server.address}\noptions timeout:{timeout_s} attempts:1\n")
    return (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$0" /etc/resolv.conf && exec "$@"',
        str(conf),
    )
