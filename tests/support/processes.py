"""Running the real entry points (CLI, API server, worker) as subprocesses against a chosen database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def env_with(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_module(module: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env or env_with(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL when it is not gone within ``grace_s``; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass(frozen=True)
class ApiProcess:
    base_url: str
    process: subprocess.Popen[Any]

    def rss_bytes(self) -> int:
        """The server's resident memory, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.process.pid}")


@contextlib.contextmanager
def api_server(
    env: dict[str, str],
    startup_timeout: float = 30.0,
    log_path: Path | None = None,
    log_level: str = "warning",
    *,
    cwd: Path = ROOT,
    host: str = "127.0.0.1",
    prefix: tuple[str, ...] = (),
) -> Iterator[str]:
    """Start ``python -m api.server`` (what ``make run`` and the image run) on a free port; yield its
    base URL. Its output goes to ``log_path`` when given (a pipe nobody reads would block a chatty API).
    ``prefix`` runs it through another command (``ip netns exec NAME`` for another host)."""
    with api_process(env, startup_timeout, log_path, log_level, cwd=cwd, host=host, prefix=prefix) as api:
        yield api.base_url


@contextlib.contextmanager
def api_process(
    env: dict[str, str],
    startup_timeout: float = 30.0,
    log_path: Path | None = None,
    log_level: str = "warning",
    *,
    cwd: Path = ROOT,
    host: str = "127.0.0.1",
    prefix: tuple[str, ...] = (),
) -> Iterator[ApiProcess]:
    """:func:`api_server`, for tests that watch the process itself (its memory, how it stops)."""
    port = free_port()
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "api.server", "--host", host, "--port", str(port), "--log-level", log_level],
        cwd=cwd,
        env=env,
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else log_path.read_text() if log_path else ""
                raise RuntimeError(f"API exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(base + "/api/background-remover/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("API did not start in time")
            time.sleep(0.2)
        yield ApiProcess(base, proc)
    finally:
        stop_process(proc)
        if proc.stdout:
            proc.stdout.close()
        if log:
            log.close()


@contextlib.contextmanager
def worker_process(
    env: dict[str, str], log_path: Path | None = None, *, cwd: Path = ROOT, prefix: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m worker``; the caller waits for its heartbeat. Killed at the end if still alive."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "worker"], cwd=cwd, env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if log_path and not isinstance(log, int):
            log.close()


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A private, memory-only redis-server (restarting it loses everything, like the real one here)."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.1)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
