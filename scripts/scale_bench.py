"""``make bench-scale``: batch throughput with 1, 2, ... worker processes, on object storage, measured.

Everything is started here and thrown away after: a scratch PostgreSQL database, moto's S3 server
(``--storage s3``, the default; ``file`` uses a temporary directory), one API (``python -m api.server``)
and, per round, N workers (``python -m worker``, basic tier, one job at a time each). A round submits one
batch of ``--images`` basic-tier images and times it from the 202 to the batch's final status. Rounds
alternate between the worker counts (1, 2, 1, 2, ...), so a machine whose load drifts (other users)
biases no variant. The report (Markdown, ``--out``/scaling.md) gives every round, the median images/s
per worker count, and the machine's core count and load average, so the figures can be read in context.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from core.settings import Settings  # noqa: E402
from tests.support.images import variant  # noqa: E402
from tests.support.processes import api_server, env_with, worker_process  # noqa: E402
from tests.support.s3_server import moto_server  # noqa: E402

API = "/api/background-remover"


def wait_for_log(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and text in path.read_text(errors="replace")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path}: no {text!r} after {timeout_s}s")
        time.sleep(0.2)


@contextlib.contextmanager
def scratch_database(server_dsn: str) -> Iterator[str]:
    dsn = f"{server_dsn}/bgremover_scale_{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-m", "db.cli", "migrate"],
        cwd=ROOT,
        env=env_with(DATABASE_URL=dsn, PICCOLO_CONF="db.piccolo_conf", BGREMOVER_ENV="development"),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")
    try:
        yield dsn
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(f"{server_dsn}/postgres")
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())


def grant(env: dict[str, str], user: str, credits: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "db.admin", "grant", "--user", user, "--credits", str(credits)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def token(env: dict[str, str], user: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "api.tokens", "--user", user], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return done.stdout.decode().strip().splitlines()[-1]


def one_round(base: str, headers: dict[str, str], images: list[bytes]) -> float:
    started = time.monotonic()
    r = httpx.post(
        base + API + "/batches",
        files=[("images[]", (f"{i}.jpg", img, "image/jpeg")) for i, img in enumerate(images)],
        data={"tier": "basic"},
        headers=headers,
        timeout=120,
    )
    r.raise_for_status()
    url = base + API + f"/batches/{r.json()['id']}"
    while True:
        batch = httpx.get(url, headers=headers, timeout=30).json()
        if batch["status"] not in ("pending", "processing"):
            if batch["status"] != "completed":
                raise RuntimeError(f"batch ended {batch['status']}: {batch}")
            return time.monotonic() - started
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/scale_bench.py", description=__doc__)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per worker count (interleaved)")
    parser.add_argument("--images", type=int, default=24, help="images per batch")
    parser.add_argument("--size", default="1280x853", help="image size WxH")
    parser.add_argument("--storage", choices=("s3", "file"), default="s3")
    parser.add_argument("--postgres", default=os.environ.get("SCALE_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis-url", default=os.environ.get("SCALE_REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.workers.split(",")]
    width, height = (int(v) for v in args.size.split("x"))
    images = [variant(Settings(), i, size=(width, height)) for i in range(args.images)]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bgremover-scale-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    load_before = os.getloadavg()
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        dsn = stack.enter_context(scratch_database(args.postgres))
        env = env_with(
            BGREMOVER_ENV="development",
            DATABASE_URL=dsn,
            REDIS_URL=args.redis_url,
            QUEUE_NAME=f"bgremover:scale:{uuid.uuid4().hex[:8]}",
            PICCOLO_CONF="db.piccolo_conf",
            STORAGE_DIR=str(work / "storage"),
            WORKER_TIERS="basic",
            WORKER_CONCURRENCY="1",
        )
        if args.storage == "s3":
            s3 = stack.enter_context(moto_server(log_path=work / "moto.log"))
            env.update(s3.env(s3.create_bucket()))
        grant(env, "scale-bench", 100_000)
        headers = {"Authorization": f"Bearer {token(env, 'scale-bench')}"}
        base = stack.enter_context(api_server(env, 60))
        order = [count for _ in range(args.rounds) for count in counts]
        for number, count in enumerate(order, 1):
            with contextlib.ExitStack() as workers:
                procs = []
                for i in range(count):
                    log = work / f"round{number}-worker{i}.log"
                    procs.append(workers.enter_context(worker_process(env, log)))
                    wait_for_log(log, "started on queue", 180)
                seconds = one_round(base, headers, images)
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(timeout=90)
            results.append({"round": number, "workers": count, "seconds": seconds, "rate": args.images / seconds})
            print(
                f"round {number}: {count} worker(s), {seconds:.1f} s, {args.images / seconds:.2f} images/s", flush=True
            )
    load_after = os.getloadavg()
    lines = [
        "# Batch throughput by worker processes",
        "",
        f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"(anything above the core count means other work shared the machine). One batch of {args.images} "
        f"basic-tier {width}×{height} JPEGs per round, storage `{args.storage}`, rounds interleaved. "
        "Generated by `make bench-scale` (scripts/scale_bench.py).",
        "",
        "| round | workers | seconds | images/s |",
        "|---|---|---|---|",
        *(f"| {r['round']} | {r['workers']} | {r['seconds']:.1f} | {r['rate']:.3f} |" for r in results),
        "",
        "| workers | median images/s | vs 1 worker |",
        "|---|---|---|",
    ]
    medians = {c: statistics.median(r["rate"] for r in results if r["workers"] == c) for c in counts}
    for count, rate in medians.items():
        ratio = f"{rate / medians[counts[0]]:.2f}×" if counts[0] in medians else ""
        lines.append(f"| {count} | {rate:.3f} | {ratio} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
