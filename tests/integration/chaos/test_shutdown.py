"""A worker told to stop exits within ``WORKER_SHUTDOWN_GRACE_S`` plus a few seconds, whatever it is
doing, and the job it was running is finished or picked up again, never charged twice.

Real ``python -m worker`` processes, busy with real jobs, are stopped over and over: SIGTERM once,
twice in a row, in the middle of a job, during start-up, and with a stderr pipe nobody reads any more
(the hang once seen in production: the worker blocked for good inside a log write, see
docs/observability.md "Stopping a worker").
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.settings import Settings
from tests.support.images import variant
from tests.support.invariants import assert_money_is_right, wait_all_final
from tests.support.processes import ROOT, api_server, env_with, worker_process

API = "/api/background-remover"
GRACE_S = 2
MARGIN_S = 5.0
"""What "a few seconds" after the grace period means here: the worker's own margin
(``worker.stopping.HARD_EXIT_MARGIN_S``, 3 s) plus 2 s for this test's polling on a loaded machine."""

pytestmark = pytest.mark.models


def stop_env() -> dict[str, str]:
    return env_with(
        QUEUE_NAME=f"bgremover:stop:{uuid.uuid4().hex[:8]}",
        WORKER_HEARTBEAT_INTERVAL_S="1",
        WORKER_HEARTBEAT_TTL_S="3",
        SWEEP_INTERVAL_S="2",
        REQUEUE_AFTER_S="1",
        WORKER_TIERS="standard",
        WORKER_SHUTDOWN_GRACE_S=str(GRACE_S),
        WORKER_NICE="0",
        # every stop mid-job costs the jobs it hands back one attempt; none may run out here
        JOB_MAX_TRIES="50",
    )


async def running_jobs(dsn: str, pid: int) -> int:
    """Jobs that the worker process ``pid`` is processing (worker ids are ``host:pid:random``)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM background_removal_job WHERE status = 'processing' AND worker_id LIKE $1",
                f"%:{pid}:%",
            )
        )
    finally:
        await conn.close()


async def wait_busy(dsn: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while await running_jobs(dsn, proc.pid) == 0:
        assert proc.poll() is None, f"the worker exited early with {proc.returncode}"
        assert time.monotonic() < deadline, "the worker never started a job"
        await asyncio.sleep(0.1)


async def wait_logged(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text():
        assert proc.poll() is None, f"the worker exited early with {proc.returncode}"
        assert time.monotonic() < deadline, f"the worker never logged {text!r}"
        await asyncio.sleep(0.05)


def wait_exit(proc: subprocess.Popen[bytes], since: float, limit_s: float) -> tuple[float, str]:
    """Seconds from ``since`` to the worker's exit and how it ended; infinity and where its main thread
    was blocked (the kernel's wait channel) when it had to be killed. The test goes on with the next
    case, so one run shows every case that fails."""
    try:
        proc.wait(timeout=max(0.1, since + limit_s - time.monotonic()) + 5)
    except subprocess.TimeoutExpired:
        blocked_in = Path(f"/proc/{proc.pid}/wchan").read_text()
        proc.kill()
        proc.wait(timeout=10)
        return float("inf"), f"killed, main thread blocked in {blocked_in}"
    return time.monotonic() - since, f"exit status {proc.returncode}"


def fill_pipe(fd: int) -> None:
    """Write into the pipe until it is full, as a reader that stopped reading leaves it. Through a new
    open file description: O_NONBLOCK on the worker's own would make its writes fail instead of block."""
    mine = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    try:
        for size in (4096, 1):  # whole pages, then the bytes left in the last one
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(mine, b"x" * size)
    finally:
        os.close(mine)


async def test_stopped_workers_always_exit_in_time_and_lose_nothing(
    settings: Settings, make_user, migrated_db: str, tmp_path: Path
) -> None:
    env = stop_env()
    user = await make_user(1000)
    limit_s = GRACE_S + MARGIN_S
    exits: list[tuple[str, tuple[float, str]]] = []
    with api_server(env) as base:
        for i in range(10):
            r = httpx.post(
                base + API + "/jobs",
                files={"image": ("p.jpg", variant(settings, i, size=(1600, 1072)), "image/jpeg")},
                data={"tier": "standard"},
                headers=user.headers,
                timeout=30,
            )
            assert r.status_code == 202, r.text

        # during start-up: while Python imports, then while the worker loads its model
        with worker_process(env, tmp_path / "importing.log") as proc:
            time.sleep(0.5)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            exits.append(("start-up, importing", wait_exit(proc, started, limit_s)))
        with worker_process(env, tmp_path / "loading.log") as proc:
            await wait_logged(tmp_path / "loading.log", "Starting worker for", proc)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            exits.append(("start-up, loading the model", wait_exit(proc, started, limit_s)))

        for name, signals in (("once, mid-job", 1), ("twice in a row, mid-job", 2)):
            with worker_process(env, tmp_path / f"{signals}.log") as proc:
                await wait_busy(migrated_db, proc)
                started = time.monotonic()
                for _ in range(signals):
                    proc.send_signal(signal.SIGTERM)
                exits.append((name, wait_exit(proc, started, limit_s)))

        # stderr is a pipe whose reader stopped reading: every log write blocks
        read_end, write_end = os.pipe()
        fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: fill it in one page
        proc = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=write_end, stderr=write_end)
        try:
            await wait_busy(migrated_db, proc)
            fill_pipe(write_end)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            exits.append(("stderr pipe full", wait_exit(proc, started, limit_s)))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            os.close(read_end)
            os.close(write_end)

        with worker_process(env, tmp_path / "last.log"):
            rows = await wait_all_final(migrated_db, [user.id], timeout_s=240)
    print(exits)
    late = [f"{name}: {elapsed:.1f} s ({how})" for name, (elapsed, how) in exits if elapsed > limit_s]
    assert not late, f"workers that took longer than {limit_s:.0f} s to stop: {late}"
    assert [r["status"] for r in rows] == ["completed"] * 10, (tmp_path / "last.log").read_text()[-3000:]
    await assert_money_is_right(migrated_db, [user.id])
