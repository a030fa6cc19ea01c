"""``make load``: drive the running service with many concurrent clients and report what it does.

Bounded in count and time, and loopback only (it refuses any other host). Phases, all against the
same running API and workers:

0. batch: one user submits a ``--batch-images`` batch (basic tier), which the workers start on;
1. submit: ``--submitters`` concurrent clients, each starting within ``--ramp-s``, POST ``--jobs`` single
   basic-tier jobs (a ~200 KB JPEG);
2. poll + download: ``--pollers`` concurrent clients, each starting within one poll interval, poll
   ``GET /jobs/{id}`` (with ``If-None-Match``, as a good client does) while the workers are busy with
   the backlog, and downloaders fetch the results that are ready, until every job is final or
   ``--max-seconds`` has passed.

Throughout, while the batch is unfinished, a probe user (not the batch's owner) submits one single
basic job at a time, ``--probes`` in all, waits for it with the long poll (``GET /jobs/{id}?wait=``)
and downloads the result: its submit→result time is what an interactive user sees while another
user's big batch runs.

A sampler records the queue depth and every worker's RSS once a second. The report (Markdown and
JSON in ``--out``) gives throughput, p50/p95/p99 latency per endpoint as the clients saw it and as the
API timed it (its ``Server-Timing`` header), queue depth and worker RSS over time, and every error;
``timeline.json`` beside it lists every request (wall-clock start, endpoint, seconds, status, the API's
seconds), to see what the slowest ones had in common.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import ipaddress
import json
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from PIL import Image
from redis.asyncio import Redis

from api.auth import make_token
from core.heartbeats import live_workers
from core.settings import get_settings
from db import credits

API = "/api/background-remover"


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)
    """Submit→result seconds of the probe user's single jobs while the batch ran."""
    submitted_at: dict[str, float] = field(default_factory=dict)
    final_after: list[float] = field(default_factory=list)
    """Submit→seen-final seconds of the burst of single jobs (as their pollers saw it)."""
    api_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """The API's own seconds per request, from its ``Server-Timing`` header (arrival to response start):
    the rest of what the client measured was spent on the network, in the client's event loop and
    reading the response."""
    loop_lag: list[tuple[float, float]] = field(default_factory=list)
    """(wall-clock time, seconds late) of the generator's own event loop, checked every 5 ms: while it is
    late, every request it times looks that much slower than the API made it."""
    timeline: list[tuple[float, str, float, int, float | None]] = field(default_factory=list)
    """Every request: (wall-clock start, endpoint, seconds, status, the API's seconds), to find what the
    slowest had in common."""

    def record(self, endpoint: str, seconds: float, status: int, api_seconds: float | None = None) -> None:
        self.latencies[endpoint].append(seconds)
        self.statuses[endpoint][status] += 1
        if api_seconds is not None:
            self.api_latencies[endpoint].append(api_seconds)
        self.timeline.append((time.time() - seconds, endpoint, seconds, status, api_seconds))


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise SystemExit(f"load generator refuses {url}: it only drives a service on this machine (loopback)")


def synthetic_photo(width: int, height: int, seed: int = 20) -> Image.Image:
    """A photo-like picture made here, so that ``make load`` needs nothing ``make run`` does not fetch:
    an out-of-focus two-colour background and a textured subject in front (it compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([90 + 80 * x / width, 120 + 60 * y / height, 160 - 70 * x / width], axis=-1)
    blotches = rng.normal(128, 25, (height // 40 + 1, width // 40 + 1, 3)).clip(0, 255).astype(np.uint8)
    background += np.asarray(Image.fromarray(blotches).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    background += rng.normal(-128, 6, (height, width, 1)).astype(np.float32)
    cx, cy, rx, ry = width * 0.5, height * 0.58, width * 0.22, height * 0.33
    inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
    shade = (y - cy) / ry
    subject = np.stack([170 - 40 * shade, 120 - 30 * shade, np.full_like(shade, 70)], axis=-1)
    subject += rng.normal(0, 18, (height, width, 1)).astype(np.float32)  # fur-like fine texture
    pixels = np.where(inside[..., None], subject, background)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def sample_image(target_bytes: int = 200_000) -> bytes:
    """A JPEG of about ``target_bytes`` (at most, where a quality of 50 gets there)."""
    side = 1600 if target_bytes >= 150_000 else 800
    rgb = synthetic_photo(side, side * 2 // 3)
    for quality in (95, 90, 85, 80, 75, 70, 60, 50):
        out = io.BytesIO()
        rgb.save(out, format="JPEG", quality=quality)
        if out.tell() <= target_bytes:
            return out.getvalue()
    return out.getvalue()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (0 without one), from /proc."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def loop_lag_monitor(stop: asyncio.Event, stats: Stats, every_s: float = 0.005) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(every_s)
        stats.loop_lag.append((time.time(), max(0.0, time.perf_counter() - before - every_s)))


async def sampler(redis: Redis, stop: asyncio.Event, stats: Stats, started: float, done: dict[str, int]) -> None:
    settings = get_settings()
    while not stop.is_set():
        workers = await live_workers(redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
        rss = {w: rss_mb(int(w.split(":")[1])) for w in workers if w.count(":") >= 2 and w.split(":")[1].isdigit()}
        stats.samples.append(
            {
                "t": round(time.monotonic() - started, 1),
                "queue_depth": int(await redis.zcard(settings.queue_name)),
                "completed": done["completed"],
                "worker_rss_mb": {k: round(v, 1) for k, v in rss.items() if v is not None},
            }
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


def api_seconds(response: httpx.Response) -> float | None:
    """The ``app;dur=`` of the API's ``Server-Timing`` header, in seconds."""
    for metric in response.headers.get("server-timing", "").split(","):
        name, _, params = metric.strip().partition(";")
        if name == "app" and params.startswith("dur="):
            with contextlib.suppress(ValueError):
                return float(params[4:]) / 1000
    return None


async def timed(client: httpx.AsyncClient, stats: Stats, endpoint: str, method: str, url: str, **kw: Any) -> Any:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        stats.errors.append(f"{endpoint}: {type(exc).__name__}: {exc}")
        stats.record(endpoint, time.perf_counter() - started, 0)
        return None
    stats.record(endpoint, time.perf_counter() - started, response.status_code, api_seconds(response))
    # 429 is the rate limiter doing its job (the client honours Retry-After): counted, not an error.
    if response.status_code >= 400 and response.status_code not in (404, 429):
        stats.errors.append(f"{endpoint}: {response.status_code} {response.text[:200]}")
    return response


async def probe(
    client: httpx.AsyncClient,
    stats: Stats,
    args: argparse.Namespace,
    token: str,
    body: bytes,
    content_type: str,
    batch_url: str | None,
    owner_token: str,
) -> None:
    """One interactive user, one job at a time while the batch runs: submit, long-poll, download."""
    if batch_url is None or not args.probes:
        return
    auth = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    while len(stats.probes) < args.probes and time.monotonic() - started < args.max_seconds:
        r = await client.get(batch_url, headers={"Authorization": f"Bearer {owner_token}"})
        if r.status_code == 200 and r.json()["status"] not in ("pending", "processing"):
            break  # the batch is done: what follows would not measure the interactive case
        t0 = time.perf_counter()
        r = await timed(
            client,
            stats,
            "POST /jobs",
            "POST",
            API + "/jobs",
            content=body,
            headers=auth | {"Content-Type": content_type},
        )
        if r is None or r.status_code != 202:
            await asyncio.sleep(1.0)
            continue
        url = f"{API}/jobs/{r.json()['id']}"
        status = "pending"
        while status in ("pending", "processing") and time.monotonic() - started < args.max_seconds:
            w = await timed(client, stats, "GET /jobs/{id}?wait=25", "GET", url, params={"wait": 25}, headers=auth)
            status = w.json()["status"] if w is not None and w.status_code == 200 else status
        if status == "completed":
            got = await timed(client, stats, "GET /jobs/{id}/result", "GET", url + "/result", headers=auth)
            if got is not None and got.status_code == 200:
                stats.probes.append(time.perf_counter() - t0)
        await asyncio.sleep(args.probe_gap)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    loopback_only(args.url)
    image = sample_image(args.image_kb * 1000)
    users = [f"load-{uuid.uuid4().hex[:8]}" for _ in range(args.users)]
    probe_user = f"load-probe-{uuid.uuid4().hex[:8]}"
    for user in [*users, probe_user]:
        await credits.grant(
            user, 3 * (args.jobs + args.batch_images) + 100, reason="load test", entry_key=f"load:{user}"
        )
    tokens = {u: make_token(settings, u) for u in [*users, probe_user]}
    stats = Stats()
    jobs: list[tuple[str, str]] = []  # (user, job id)
    done = {"completed": 0}
    redis = Redis.from_url(settings.redis_url)
    stop = asyncio.Event()
    api_cpu_before = cpu_seconds(args.api_pid)
    started = time.monotonic()
    sampling = asyncio.create_task(sampler(redis, stop, stats, started, done))
    lag_monitor = asyncio.create_task(loop_lag_monitor(stop, stats))
    limits = httpx.Limits(max_connections=args.pollers + args.submitters + 10)
    async with httpx.AsyncClient(base_url=args.url, timeout=60, limits=limits) as client:
        submitted = 0

        # Encode the multipart body once: the generator shares the machine's cores with the service,
        # and re-encoding 200 KB per request would be the client's cost counted as the server's.
        template = httpx.Request(
            "POST", args.url + API + "/jobs", files={"image": ("load.jpg", image, "image/jpeg")}, data={"tier": "basic"}
        )
        body = template.read()
        content_type = template.headers["content-type"]

        async def submitter(index: int) -> None:
            nonlocal submitted
            # Twenty independent clients do not send their first upload in the same millisecond either:
            # started at once, their first requests queued behind each other (135–225 ms) and, being 1 in
            # 15 of all submits, set the p99 on their own (without them: 120–205 ms in four runs). --ramp-s 0
            # keeps that burst.
            await asyncio.sleep(random.Random(-1 - index).uniform(0, args.ramp_s))
            while submitted < args.jobs and time.monotonic() - started < args.max_seconds:
                submitted += 1
                user = users[(index + submitted) % len(users)]
                r = await timed(
                    client,
                    stats,
                    "POST /jobs",
                    "POST",
                    API + "/jobs",
                    content=body,
                    headers={"Authorization": f"Bearer {tokens[user]}", "Content-Type": content_type},
                )
                if r is not None and r.status_code == 202:
                    jobs.append((user, r.json()["id"]))
                    stats.submitted_at[r.json()["id"]] = time.monotonic()
                elif r is not None and r.status_code in (429, 503):
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")))

        batch_upload: dict[str, Any] = {}
        batch_url: str | None = None
        if args.batch_images:
            # One large batch first: how long does accepting it hold the request?
            files = [("images[]", (f"{i:03d}.jpg", image, "image/jpeg")) for i in range(args.batch_images)]
            request = httpx.Request("POST", args.url + API + "/batches", files=files, data={"tier": "basic"})
            payload = request.read()
            t0 = time.perf_counter()
            r = await timed(
                client,
                stats,
                "POST /batches",
                "POST",
                API + "/batches",
                content=payload,
                headers={
                    "Authorization": f"Bearer {tokens[users[0]]}",
                    "Content-Type": request.headers["content-type"],
                },
                timeout=600,
            )
            batch_upload = {
                "images": args.batch_images,
                "body_mb": round(len(payload) / 1e6, 1),
                "seconds": round(time.perf_counter() - t0, 2),
                "status": r.status_code if r is not None else None,
            }
            if r is not None and r.status_code == 202:
                batch_url = f"{API}/batches/{r.json()['id']}"

        probing = asyncio.create_task(
            probe(client, stats, args, tokens[probe_user], body, content_type, batch_url, tokens[users[0]])
        )

        # This generator's own garbage collections are not the service's latency: a full collection took
        # 77-84 ms in the middle of a burst and added that to every upload in flight. The burst is short and
        # its garbage is collected right after it; the later phases run with what is alive now frozen.
        gc.collect()
        gc.freeze()
        gc.disable()
        submit_started = time.monotonic()
        try:
            await asyncio.gather(*[submitter(i) for i in range(args.submitters)])
        finally:
            submit_seconds = time.monotonic() - submit_started
            gc.enable()
            gc.collect()
        final: set[str] = set()
        downloaded: set[str] = set()
        etags: dict[str, str] = {}

        poll_params = {"wait": 25} if args.long_poll else None
        poll_endpoint = "GET /jobs/{id}?wait=25" if args.long_poll else "GET /jobs/{id}"

        async def poller(index: int) -> None:
            """Like a real client: poll unfinished jobs, honouring Retry-After, until every job is final."""
            rng = random.Random(index)
            # Independent clients do not send their first poll in the same millisecond. Started all at
            # once, the 100 first polls queued behind each other (200–320 ms each) and were the slowest
            # 1 % of all polls on their own: a measure of this generator's start, not of polling.
            await asyncio.sleep(rng.uniform(0, args.poll_interval))
            while len(final) < len(jobs) and time.monotonic() - started < args.max_seconds:
                waiting = [j for j in jobs if j[1] not in final]
                if not waiting:
                    break
                user, job_id = rng.choice(waiting)
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                if job_id in etags:
                    headers["If-None-Match"] = etags[job_id]
                r = await timed(
                    client, stats, poll_endpoint, "GET", f"{API}/jobs/{job_id}", params=poll_params, headers=headers
                )
                if r is not None and r.status_code == 200:
                    etags[job_id] = r.headers.get("etag", "")
                    if r.json()["status"] in ("completed", "failed", "cancelled"):
                        if job_id not in final:
                            stats.final_after.append(time.monotonic() - stats.submitted_at[job_id])
                        final.add(job_id)
                        done["completed"] = len(final)
                        continue
                # A good client honours Retry-After (1 s while a job is pending or processing; 0 after a
                # long poll, which waited already).
                hint = float(r.headers.get("retry-after", "0")) if r is not None else 1.0
                floor = 0.0 if args.long_poll else args.poll_interval
                await asyncio.sleep(max(floor, hint) * rng.uniform(0.9, 1.1))

        async def downloader() -> None:
            while len(downloaded) < len(jobs) and time.monotonic() - started < args.max_seconds:
                ready = [j for j in jobs if j[1] in final and j[1] not in downloaded]
                if not ready:
                    await asyncio.sleep(0.5)
                    continue
                user, job_id = ready[0]
                downloaded.add(job_id)
                await timed(
                    client,
                    stats,
                    "GET /jobs/{id}/result",
                    "GET",
                    f"{API}/jobs/{job_id}/result",
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                )

        poll_started = time.monotonic()
        await asyncio.gather(*[poller(i) for i in range(args.pollers)], *[downloader() for _ in range(2)])
        poll_seconds = time.monotonic() - poll_started
        await probing
    api_cpu = cpu_seconds(args.api_pid) - api_cpu_before
    wall = time.monotonic() - started
    stop.set()
    await sampling
    await lag_monitor
    await redis.aclose()
    result = summarise(args, stats, len(jobs), len(final), submit_seconds, poll_seconds)
    result["batch_upload"] = batch_upload
    if args.api_pid:
        result["api_cpu"] = {"seconds": round(api_cpu, 1), "share_of_one_core_pct": round(api_cpu / wall * 100, 1)}
    return result


def loop_lag_summary(stats: Stats) -> dict[str, float]:
    """The generator's event-loop lag over the whole run and while the single jobs were submitted."""
    submits = [start for start, endpoint, *_ in stats.timeline if endpoint == "POST /jobs"]
    during = [lag for at, lag in stats.loop_lag if submits and min(submits) <= at <= max(submits) + 1]
    every = [lag for _, lag in stats.loop_lag]
    return {
        "p99": round(percentile(every, 99) * 1000, 1),
        "max": round(max(every, default=0.0) * 1000, 1),
        "submits_p99": round(percentile(during, 99) * 1000, 1),
        "submits_max": round(max(during, default=0.0) * 1000, 1),
    }


def summarise(
    args: argparse.Namespace, stats: Stats, accepted: int, final: int, submit_s: float, poll_s: float
) -> dict[str, Any]:
    endpoints: dict[str, dict[str, Any]] = {}
    for endpoint, values in stats.latencies.items():
        endpoints[endpoint] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "mean_ms": round(statistics.fmean(values) * 1000, 1),
            "api_p50_ms": round(percentile(stats.api_latencies[endpoint], 50) * 1000, 1),
            "api_p99_ms": round(percentile(stats.api_latencies[endpoint], 99) * 1000, 1),
            "statuses": dict(stats.statuses[endpoint]),
        }
    rss_series: dict[str, list[float]] = defaultdict(list)
    busy = [s for s in stats.samples if s["queue_depth"] > 0] or stats.samples  # an idle worker says nothing
    for sample in busy:
        for worker, value in sample["worker_rss_mb"].items():
            rss_series[worker].append(value)
    rss = {}
    for worker, series in rss_series.items():
        # RSS rises during each image and falls after it; what must stay flat is the band it moves in.
        # Compare the first and the last fifth of the run after a warm-up fifth: peak with peak,
        # baseline with baseline.
        tail = series[len(series) // 5 :] or series
        fifth = max(1, len(tail) // 5)
        first, last = tail[:fifth], tail[-fifth:]
        rss[worker] = {
            "start_mb": series[0],
            "end_mb": series[-1],
            "band_mb": [min(tail), max(tail)],
            "peak_growth_pct": round((max(last) - max(first)) / max(first) * 100, 1),
            "baseline_growth_pct": round((min(last) - min(first)) / min(first) * 100, 1),
        }

    def seconds(values: list[float]) -> dict[str, Any]:
        return {
            "count": len(values),
            "p50_s": round(percentile(values, 50), 2),
            "p95_s": round(percentile(values, 95), 2),
            "max_s": round(max(values), 2) if values else None,
        }

    def p99_ms(endpoint: str) -> float:
        return float(endpoints.get(endpoint, {}).get("p99_ms", float("nan")))

    targets = {
        "POST /jobs p99 < 150 ms": p99_ms("POST /jobs") < 150,
        "single job submit→result p95 < 3 s while a batch runs": percentile(stats.probes, 95) < 3.0,
    }
    if "GET /jobs/{id}" in endpoints:  # plain polls; a long poll's time is mostly the wait it asked for
        targets["GET /jobs/{id} p99 < 50 ms"] = p99_ms("GET /jobs/{id}") < 50
    return {
        "config": vars(args),
        "interactive_while_batch": seconds(stats.probes),
        "burst_singles_final": seconds(stats.final_after),
        "targets": targets,
        "accepted_jobs": accepted,
        "final_jobs": final,
        "submit_phase_s": round(submit_s, 1),
        "poll_phase_s": round(poll_s, 1),
        "throughput_jobs_per_s": round(final / max(poll_s + submit_s, 1e-9), 2),
        "submit_rate_per_s": round(accepted / max(submit_s, 1e-9), 1),
        "client_loop_lag_ms": loop_lag_summary(stats),
        "endpoints": endpoints,
        "max_queue_depth": max((s["queue_depth"] for s in stats.samples), default=0),
        "worker_rss": rss,
        "errors": stats.errors[:50],
        "error_count": len(stats.errors),
        "samples": stats.samples,
        "timeline": stats.timeline,
    }


def markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        "# Load test",
        "",
        f"{cfg['submitters']} submitters (starting within {cfg['ramp_s']} s), {cfg['pollers']} pollers "
        f"(every {cfg['poll_interval']} s, with If-None-Match), {cfg['jobs']} basic-tier jobs of a "
        f"~{cfg['image_kb']} KB JPEG, {cfg['users']} users; "
        f"a probe user runs up to {cfg['probes']} single jobs, one at a time, while the batch runs.",
        "",
        f"- accepted {result['accepted_jobs']} jobs in {result['submit_phase_s']} s "
        f"({result['submit_rate_per_s']} /s); {result['final_jobs']} final after the poll phase "
        f"({result['poll_phase_s']} s); end-to-end throughput {result['throughput_jobs_per_s']} jobs/s",
        f"- deepest queue: {result['max_queue_depth']}; errors: {result['error_count']}",
        "- the load generator's own event loop was late by up to {max} ms (p99 {p99} ms); while the single "
        "jobs were submitted, up to {submits_max} ms (p99 {submits_p99} ms): a request's time as the clients "
        "saw it includes that".format(**result["client_loop_lag_ms"]),
        *(
            [
                f"- one batch of {b['images']} images ({b['body_mb']} MB) accepted in {b['seconds']} s "
                f"(HTTP {b['status']}), before the other phases"
            ]
            if (b := result.get("batch_upload"))
            else []
        ),
        *(
            [
                f"- API process CPU: {c['seconds']} s over the run, {c['share_of_one_core_pct']} % of one core"
                f" ({'long-polling' if cfg['long_poll'] else 'polling'} clients)"
            ]
            if (c := result.get("api_cpu"))
            else []
        ),
        "",
        "| targets | met |",
        "|---|---|",
        *[f"| {name} | {'met' if ok else '**not met**'} |" for name, ok in result["targets"].items()],
        "",
        "| submit → result, seconds | jobs | p50 | p95 | max |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {v['count']} | {v['p50_s']} | {v['p95_s']} | {v['max_s']} |"
            for label, v in (
                (
                    "a probe user's single job while the batch runs (one at a time, long poll, download)",
                    result["interactive_while_batch"],
                ),
                ("the burst of single jobs (to final, as their pollers saw it)", result["burst_singles_final"]),
            )
        ],
        "",
        "Seen by the clients; in the API's own time (its `Server-Timing`: arrival to response start) beside:",
        "",
        "| endpoint | requests | p50 ms | p95 ms | p99 ms | API p50 ms | API p99 ms | statuses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for endpoint, e in result["endpoints"].items():
        lines.append(
            f"| {endpoint} | {e['requests']} | {e['p50_ms']} | {e['p95_ms']} | {e['p99_ms']} "
            f"| {e['api_p50_ms']} | {e['api_p99_ms']} | {e['statuses']} |"
        )
    lines += [
        "",
        "| worker | RSS start MB | RSS end MB | band after warm-up MB | peak growth | baseline growth |",
        "|---|---|---|---|---|---|",
    ]
    for worker, r in result["worker_rss"].items():
        lines.append(
            f"| {worker} | {r['start_mb']} | {r['end_mb']} | {r['band_mb'][0]}–{r['band_mb'][1]} "
            f"| {r['peak_growth_pct']} % | {r['baseline_growth_pct']} % |"
        )
    lines += ["", "Queue depth and RSS over time (every ~10th sample):", "", "| t s | queue | completed | RSS MB |"]
    lines.append("|---|---|---|---|")
    for sample in result["samples"][:: max(1, len(result["samples"]) // 30)]:
        rss = ", ".join(f"{v}" for v in sample["worker_rss_mb"].values())
        lines.append(f"| {sample['t']} | {sample['queue_depth']} | {sample['completed']} | {rss} |")
    if result["errors"]:
        lines += ["", "First errors:", ""] + [f"- `{e}`" for e in result["errors"][:10]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/load.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--jobs", type=int, default=300, help="single jobs to submit (bounded)")
    parser.add_argument("--submitters", type=int, default=20)
    parser.add_argument(
        "--ramp-s", type=float, default=0.1, help="each submitter starts at a random moment within this many seconds"
    )
    parser.add_argument("--pollers", type=int, default=100)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--image-kb", type=int, default=200, help="size of the JPEG every job uploads")
    parser.add_argument("--batch-images", type=int, default=500, help="first, one batch of this many (0 = none)")
    parser.add_argument("--long-poll", action="store_true", help="pollers long-poll (?wait=25) instead of polling")
    parser.add_argument("--api-pid", type=int, default=None, help="report this API process's CPU time")
    parser.add_argument("--probes", type=int, default=20, help="single jobs a probe user runs while the batch does")
    parser.add_argument("--probe-gap", type=float, default=1.0, help="seconds between the probe user's jobs")
    parser.add_argument("--max-seconds", type=float, default=900, help="hard stop for the whole run")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= 20_000 or not 1 <= args.pollers <= 1000 or not 1 <= args.submitters <= 200:
        parser.error("--jobs ≤ 20000, --pollers ≤ 1000, --submitters ≤ 200")
    if args.batch_images and not 2 <= args.batch_images <= 500:
        parser.error("--batch-images is 0 or 2..500")
    result = asyncio.run(run(args))
    timeline = result.pop("timeline")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(result, indent=2, default=str))
    (args.out / "timeline.json").write_text(json.dumps(timeline))
    report = markdown(result)
    (args.out / "load.md").write_text(report)
    print(report)
    return 0 if result["error_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
