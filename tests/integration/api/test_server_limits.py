"""``python -m api.server`` as an attacker meets it: raw sockets against the real process.

Bare uvicorn held a connection whose request head trickled in one header at a time for as long as
the client liked (slowloris), served any number of connections, and never closed one that sent
nothing. Here the server runs with HEADER_TIMEOUT_S=1, MAX_CONNECTIONS=3 and MAX_HEADER_BYTES=4096.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.processes import api_server, env_with

HEADER_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 3
LIVE = "/api/background-remover/health/live"
HEAD = f"GET {LIVE} HTTP/1.1\r\nHost: bgremover.test\r\n".encode()


@pytest.fixture(scope="module")
def server(migrated_db: str) -> Iterator[tuple[str, int]]:
    env = env_with(
        HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        KEEP_ALIVE_TIMEOUT_S="30",
        MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        MAX_HEADER_BYTES="4096",
    )
    with api_server(env) as base:
        url = urlsplit(base)
        yield (url.hostname or "127.0.0.1", url.port or 80)


def _closed_by_server(sock: socket.socket, within_s: float, trickle: bool = False) -> tuple[bool, bytes]:
    """Wait until the server closes ``sock``, sending a header line every 0.2 s when ``trickle``;
    returns (closed, whatever the server sent)."""
    received = b""
    deadline = time.monotonic() + within_s
    i = 0
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        try:
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    return True, received
                received += chunk
            elif trickle:
                sock.sendall(f"X-Slow-{i}: {'a' * 10}\r\n".encode())
                i += 1
        except (ConnectionResetError, BrokenPipeError):
            return True, received
    return False, received


def _read_response(sock: socket.socket) -> bytes:
    """One complete response on a keep-alive connection (health/live is small and has a length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_request_head_trickled_slowly_is_cut_off(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(HEAD)
        closed, received = _closed_by_server(sock, within_s=HEADER_TIMEOUT_S + 4, trickle=True)
        elapsed = time.monotonic() - started
    assert closed, "the server still held a connection trickling headers after the timeout"
    assert received == b"", "the request was served although its head never completed"
    assert HEADER_TIMEOUT_S * 0.8 <= elapsed <= HEADER_TIMEOUT_S + 3, elapsed


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=5) as sock:
        closed, _ = _closed_by_server(sock, within_s=HEADER_TIMEOUT_S + 4)
    assert closed


def test_every_request_on_a_keep_alive_connection_has_the_deadline(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=5) as sock:
        # a head in two pieces, completed well within the deadline, is served
        sock.sendall(HEAD)
        time.sleep(HEADER_TIMEOUT_S / 3)
        sock.sendall(b"\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200")
        # the connection stays open for the next request, whose head now trickles
        sock.sendall(HEAD)
        closed, received = _closed_by_server(sock, within_s=HEADER_TIMEOUT_S + 4, trickle=True)
    assert closed and received == b""


def test_a_request_head_growing_past_the_limit_is_refused(server: tuple[str, int]) -> None:
    """What a slow client can make the server buffer is bounded too, not only how long it may take."""
    with socket.create_connection(server, timeout=5) as sock:
        sock.sendall(HEAD + b"X-Big: " + b"a" * 8192)
        closed, received = _closed_by_server(sock, within_s=5)
    assert closed and received.startswith(b"HTTP/1.1 400"), received[:100]


def test_a_connection_over_the_cap_gets_503_problem_and_the_server_recovers(server: tuple[str, int]) -> None:
    base = f"http://{server[0]}:{server[1]}"
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = socket.create_connection(server, timeout=5)
            held.append(sock)
            sock.sendall(HEAD + b"\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")  # served, and kept alive
        over = httpx.get(base + LIVE, timeout=5)
        assert over.status_code == 503, over.text
        assert over.headers["content-type"].startswith("application/problem+json")
        assert over.json()["code"] == "too_many_connections"
        assert over.headers["retry-after"]
        assert over.headers["x-content-type-options"] == "nosniff"
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while (status := httpx.get(base + LIVE, timeout=5).status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200
