"""Our running service against rembg's HTTP server, side by side (``make bench-service``)::

    python -m tools.bench_service --out reports/ [--rounds 3] [--per-client 6] [--clients 1,4]

Both sides run on this machine at the same time, on the same cores, with the same weights (rembg's
``U2NET_HOME`` links to our model cache) and the same 2 MP photos (the quokka, resized and varied):

* ours: ``python -m api.server`` + one ``python -m worker``, on their own PostgreSQL database and
  Redis DB; a client submits (``POST /jobs``), waits for completion (:func:`wait_until_final`: a long
  poll by default, ``--poll-s`` polls instead) and downloads the PNG;
* rembg: ``rembg s`` (rembg from PyPI in ``.venv-rembg``, ``make rembg-venv``), ``POST /api/remove``,
  which answers with the PNG.

Both servers are first warmed up with two images per client at the most clients measured. Each
configuration (tier/model × concurrent clients) runs ``--rounds`` times, the two sides interleaved
(ours first in even rounds, rembg first in odd ones). Per side: images/s (closed loop: each client
sends its next image when the previous one is back), p50/p95 latency per image, server CPU seconds
per image (our API + worker processes; PostgreSQL and Redis are shared with other users of the
machine and not counted), peak RSS of the server processes, output size. The bare ``session.run``
throughput of each model on these cores is measured too, as the limit no server can beat.
Writes ``bench-service.md`` and ``bench-service.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

import cv2
import httpx
import numpy as np

from core.model_manifest import EVAL_ASSETS, U2NET, U2NETP
from core.settings import get_settings
from engine.inference import ModelRunner, available_cores
from engine.model_fetch import run_fetch
from engine.pipelines import U2NET_320, U2NETP_320, ModelSpec
from tools.rembg_baseline import REMBG_VERSION, rembg_env, rembg_python

ROOT = Path(__file__).resolve().parent.parent
API = "/api/background-remover"
FINAL = {"completed", "failed", "cancelled"}
LONG_POLL_S = 25


def _waiting(poll_s: float) -> str:
    return f"poll every {poll_s} s" if poll_s > 0 else f"long poll (`GET /jobs/{{id}}?wait={LONG_POLL_S}`)"


# our tier → (rembg's model name, the model both run)
PAIRS: dict[str, tuple[str, ModelSpec]] = {"basic": ("u2netp", U2NETP_320), "standard": ("u2net", U2NET_320)}
assert {spec.file for _, spec in PAIRS.values()} == {U2NETP.file, U2NET.file}

# images/s against rembg's with the most clients: issue 14's 1.3×, raised for basic by issue 20
SPEEDUP_TARGET = {"basic": 1.5, "standard": 1.3}
BARE_SHARE_TARGET = 0.8


@dataclass
class RoundResult:
    side: str
    tier: str
    clients: int
    images: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    cpu_by_process: dict[str, float]
    peak_rss_mb: float
    output_bytes: list[int]
    errors: list[str] = field(default_factory=list)
    client_cpu_seconds: float = 0.0
    """CPU of this process, whose clients share the cores with the servers: ours make three requests per
    image (submit, wait, download), rembg's one."""

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def photos(model_dir: Path, megapixels: float = 2.0, count: int = 4) -> list[bytes]:
    """``count`` 2 MP JPEGs from the quokka photo: resized, mirrored and reframed, so no two are the same."""
    photo = cv2.imread(str(model_dir / "quokka.jpg"))
    if photo is None:
        raise FileNotFoundError(model_dir / "quokka.jpg")
    out = []
    for i in range(count):
        img = photo if i % 2 == 0 else photo[:, ::-1]
        if i >= 2:  # reframe: drop a tenth of the edges
            h, w = img.shape[:2]
            img = img[h // 20 : h - h // 20, w // 20 : w - w // 20]
        h, w = img.shape[:2]
        scale = (megapixels * 1e6 / (w * h)) ** 0.5
        resized = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(buf.tobytes())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 600.0) -> None:
    """rembg's imports compile numba code at start-up: minutes on a busy machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def our_env(args: argparse.Namespace, storage: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "BGREMOVER_ENV": "development",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "STORAGE_DIR": str(storage),
            "WORKER_TIERS": ",".join(args.tiers),
            # rembg runs at the default priority: so does our worker here (its production default is nice 19)
            "WORKER_NICE": "0",
        }
    )
    env.update(dict(item.split("=", 1) for item in args.our_env))
    return env


def run_module(module: str, *argv: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} {' '.join(argv)} failed: {proc.stderr.strip()[-800:]}")
    return proc.stdout.strip()


# --- the clients -------------------------------------------------------------------------------------


@dataclass
class Side:
    """One server under test: how one client turns a photo into a PNG, and the processes to account."""

    name: str
    pids: dict[str, int]
    """Process name → pid, e.g. {"api": …, "worker": …}."""
    one_image: Callable[[httpx.AsyncClient, int, str, int], Awaitable[int]]
    """(client, client index, tier, image index) → PNG size; raises on failure."""


class Ours:
    def __init__(self, base: str, tokens: list[str], bodies: dict[tuple[str, int], tuple[bytes, str]], poll_s: float):
        self.base = base
        self.tokens = tokens
        self.bodies = bodies
        self.poll_s = poll_s

    async def wait_until_final(self, client: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> str:
        """Wait until the job is final; returns its status. By default as the Python client does: a long
        poll (``?wait=25``) answered the moment the worker finishes. ``poll_s`` > 0 polls instead (with
        ``If-None-Match``), as a client of an API without long polls would."""
        etag = ""
        query = "" if self.poll_s > 0 else f"?wait={LONG_POLL_S}"
        while True:
            r = await client.get(f"{API}/jobs/{job_id}{query}", headers={**headers, "If-None-Match": etag})
            if r.status_code == 200:
                etag = r.headers.get("etag", "")
                status = str(r.json()["status"])
                if status in FINAL:
                    return status
            elif r.status_code != 304:
                raise RuntimeError(f"GET /jobs/{{id}}: {r.status_code} {r.text[:200]}")
            if self.poll_s > 0:
                await asyncio.sleep(self.poll_s)

    async def one_image(self, client: httpx.AsyncClient, who: int, tier: str, image: int) -> int:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        body, content_type = self.bodies[(tier, image)]
        r = await client.post(f"{API}/jobs", content=body, headers={**headers, "Content-Type": content_type})
        if r.status_code != 202:
            raise RuntimeError(f"POST /jobs: {r.status_code} {r.text[:200]}")
        job_id = r.json()["id"]
        status = await self.wait_until_final(client, job_id, headers)
        if status != "completed":
            raise RuntimeError(f"job {job_id} ended {status}")
        r = await client.get(f"{API}/jobs/{job_id}/result", headers=headers)
        if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"GET /jobs/{{id}}/result: {r.status_code}")
        return len(r.content)


class Rembg:
    def __init__(self, bodies: dict[tuple[str, int], tuple[bytes, str]]):
        self.bodies = bodies

    async def one_image(self, client: httpx.AsyncClient, who: int, tier: str, image: int) -> int:
        body, content_type = self.bodies[(tier, image)]
        r = await client.post("/api/remove", content=body, headers={"Content-Type": content_type})
        if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"POST /api/remove: {r.status_code} {r.text[:200]}")
        return len(r.content)


def multipart(url: str, files: dict[str, tuple[str, bytes, str]], data: dict[str, str]) -> tuple[bytes, str]:
    """Encoded once up front: the clients share the cores with the servers, their cost must stay small."""
    request = httpx.Request("POST", url, files=files, data=data)
    return request.read(), request.headers["content-type"]


async def run_round(side: Side, base: str, tier: str, clients: int, per_client: int, n_images: int) -> RoundResult:
    latencies: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    peak = 0.0
    stop = asyncio.Event()

    async def sample_rss() -> None:
        nonlocal peak
        while not stop.is_set():
            with contextlib.suppress(OSError):
                peak = max(peak, sum(rss_mb(pid) for pid in side.pids.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    async def client_loop(http: httpx.AsyncClient, who: int) -> None:
        for k in range(per_client):
            started = time.perf_counter()
            try:
                sizes.append(await side.one_image(http, who, tier, (who + k) % n_images))
                latencies.append(time.perf_counter() - started)
            except (httpx.HTTPError, RuntimeError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
        sampler = asyncio.create_task(sample_rss())
        cpu_before = {name: cpu_seconds(pid) for name, pid in side.pids.items()}
        own_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(http, who) for who in range(clients)))
        seconds = time.perf_counter() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in side.pids.items()}
        own = time.process_time() - own_before
        stop.set()
        await sampler
    return RoundResult(
        side.name, tier, clients, len(latencies), seconds, latencies, sum(cpu.values()), cpu, peak, sizes, errors, own
    )


# --- the bare model ----------------------------------------------------------------------------------


def bare_limit(spec: ModelSpec, model_dir: Path, runs: int) -> dict[str, float]:
    """Images/s of bare ``session.run`` on all cores: one run at a time with intra-op threads = cores, and
    one run per core with one thread each; the better of the two is the limit."""
    cores = available_cores()
    tensor = np.random.default_rng(0).standard_normal((1, 3, spec.input_size, spec.input_size), dtype=np.float32)
    wide = ModelRunner.create(spec, model_dir, threads=cores)
    wide.run(tensor)
    start = time.perf_counter()
    for _ in range(runs):
        wide.run(tensor)
    serial = runs / (time.perf_counter() - start)
    narrow = ModelRunner.create(spec, model_dir, threads=1)
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(narrow.run, [tensor] * cores))
        start = time.perf_counter()
        list(pool.map(narrow.run, [tensor] * (runs * cores // 2 or 1)))
        parallel = (runs * cores // 2 or 1) / (time.perf_counter() - start)
    return {"serial_all_threads": serial, "parallel_one_thread_each": parallel, "limit": max(serial, parallel)}


# --- the report --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def summarise(rounds: list[RoundResult], bare: dict[str, dict[str, float]]) -> dict[str, object]:
    configs: dict[str, dict[str, object]] = {}
    for r in rounds:
        key = f"{r.tier}/{r.clients}/{r.side}"
        c = configs.setdefault(key, {"tier": r.tier, "clients": r.clients, "side": r.side, "rounds": []})
        c["rounds"].append(r)  # type: ignore[attr-defined]
    out: dict[str, dict[str, object]] = {}
    for key, c in configs.items():
        rs: list[RoundResult] = c["rounds"]  # type: ignore[assignment]
        lat = [x for r in rs for x in r.latencies]
        images = sum(r.images for r in rs)
        sizes = [s for r in rs for s in r.output_bytes]
        out[key] = {
            "tier": c["tier"],
            "clients": c["clients"],
            "side": c["side"],
            "images_per_s": median(r.images_per_s for r in rs),
            "images_per_s_rounds": [round(r.images_per_s, 3) for r in rs],
            "p50_s": pct(lat, 50),
            "p95_s": pct(lat, 95),
            "cpu_s_per_image": sum(r.cpu_seconds for r in rs) / max(images, 1),
            "cpu_s_per_image_by_process": {
                name: sum(r.cpu_by_process[name] for r in rs) / max(images, 1) for name in rs[0].cpu_by_process
            },
            "client_cpu_s_per_image": sum(r.client_cpu_seconds for r in rs) / max(images, 1),
            "peak_rss_mb": max(r.peak_rss_mb for r in rs),
            "output_kb": (sum(sizes) / len(sizes) / 1024) if sizes else 0.0,
            "images": images,
            "errors": [e for r in rs for e in r.errors][:20],
        }
    return {"configs": out, "bare": bare}


def _fmt_range(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def markdown(summary: dict[str, object], meta: dict[str, object]) -> str:
    configs: dict[str, dict[str, object]] = summary["configs"]  # type: ignore[assignment]
    bare: dict[str, dict[str, float]] = summary["bare"]  # type: ignore[assignment]
    lines = [
        "# Our service against rembg, side by side",
        "",
        f"{meta['cores']} cores ({meta['load_note']}); {meta['rounds']} interleaved rounds per configuration, "
        f"{meta['per_client']} images per client per round; 2 MP JPEG photos in, PNG cut-outs out on both sides. "
        f"Ours: `python -m api.server` + one worker ({meta['our_worker']}), a client = submit, "
        f"{_waiting(float(str(meta['poll_s'])))}, download. "
        f"rembg {REMBG_VERSION}: `rembg s` (one process), a client = one "
        "`POST /api/remove`. Same weights files, same photos, same machine at the same time. "
        "CPU = server processes only (our API + worker; rembg's server), per image. "
        "Generated by `python -m tools.bench_service` (`make bench-service`).",
        "",
        "| tier vs model | clients | ours img/s | rembg img/s | ratio | ours p50 / p95 s | rembg p50 / p95 s "
        "| ours CPU s/img | rembg CPU s/img | ours peak RSS MB | rembg peak RSS MB | PNG KB ours / rembg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    tiers = list(dict.fromkeys(str(c["tier"]) for c in configs.values()))
    clients_list = sorted({int(c["clients"]) for c in configs.values()})  # type: ignore[call-overload]
    for tier in tiers:
        model = PAIRS[tier][0]
        for n in clients_list:
            o, r = configs.get(f"{tier}/{n}/ours"), configs.get(f"{tier}/{n}/rembg")
            if o is None or r is None:
                continue
            ratio = float(o["images_per_s"]) / max(float(r["images_per_s"]), 1e-9)  # type: ignore[arg-type]
            lines.append(
                f"| {tier} vs {model} | {n} | {o['images_per_s']:.2f} ({_fmt_range(o['images_per_s_rounds'])}) "  # type: ignore[arg-type]
                f"| {r['images_per_s']:.2f} ({_fmt_range(r['images_per_s_rounds'])}) | {ratio:.2f}× "  # type: ignore[arg-type]
                f"| {o['p50_s']:.2f} / {o['p95_s']:.2f} | {r['p50_s']:.2f} / {r['p95_s']:.2f} "
                f"| {o['cpu_s_per_image']:.2f} | {r['cpu_s_per_image']:.2f} "
                f"| {o['peak_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | {o['output_kb']:.0f} / {r['output_kb']:.0f} |"
            )
            if n == max(clients_list):
                ok = ratio >= SPEEDUP_TARGET[tier]
                verdicts.append(
                    f"- {tier} vs {model}, {n} clients: {ratio:.2f}× rembg's images/s "
                    f"(target ≥ {SPEEDUP_TARGET[tier]}×): {'met' if ok else 'NOT met'}."
                )
                spec_file = PAIRS[tier][1].file
                if spec_file in bare:
                    share = float(o["images_per_s"]) / bare[spec_file]["limit"]  # type: ignore[arg-type]
                    target = (
                        f" (target ≥ {BARE_SHARE_TARGET:.0%}): {'met' if share >= BARE_SHARE_TARGET else 'NOT met'}"
                    )
                    verdicts.append(
                        f"- {tier}, {n} clients: {share:.0%} of the bare-model limit "
                        f"({bare[spec_file]['limit']:.2f} img/s)" + (target if tier == "basic" else "") + "."
                    )
            if n == min(clients_list):
                ok = float(o["p50_s"]) <= float(r["p50_s"])  # type: ignore[arg-type]
                verdicts.append(
                    f"- {tier} vs {model}, {n} client: p50 {o['p50_s']:.2f} s vs rembg's {r['p50_s']:.2f} s "
                    f"(target ≤ rembg's): {'met' if ok else 'NOT met'}."
                )
    lines += ["", "## Where our CPU goes (seconds per image)", ""]
    for c in configs.values():
        if c["side"] == "ours":
            split: dict[str, float] = c["cpu_s_per_image_by_process"]  # type: ignore[assignment]
            share = split.get("api", 0.0) / max(sum(split.values()), 1e-9)
            parts = ", ".join(f"{name} {value:.3f}" for name, value in split.items())
            lines.append(f"- {c['tier']}, {c['clients']} client(s): {parts} (API {share:.0%} of ours)")
    lines += [
        f"- the clients themselves (this process, on the same cores), {c['tier']}, {c['clients']} client(s), "
        f"{c['side']}: {c['client_cpu_s_per_image']:.3f}"
        for c in configs.values()
    ]
    lines += ["", "## Targets", "", *verdicts, "", "## Bare model (the limit no server can beat)", ""]
    for file, b in bare.items():
        lines.append(
            f"- {file}: {b['serial_all_threads']:.2f} img/s one run at a time on all cores, "
            f"{b['parallel_one_thread_each']:.2f} img/s with one single-threaded run per core; "
            f"limit {b['limit']:.2f} img/s."
        )
    errors = [(k, c["errors"]) for k, c in configs.items() if c["errors"]]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- {k}: {e}" for k, errs in errors for e in errs]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"


# --- orchestration -----------------------------------------------------------------------------------


def measure_bare(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Each model alone in a child process (nothing else loaded), as :func:`bare_limit` measures it."""
    bare: dict[str, dict[str, float]] = {}
    for tier in args.tiers:
        file = PAIRS[tier][1].file
        print(f"bare session.run of {file}", file=sys.stderr, flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        out = run_module("tools.bench_service", "--bare", file, "--bare-runs", str(args.bare_runs), env=env)
        bare[file] = json.loads(out.splitlines()[-1])
    return bare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-client", type=int, default=8, help="images each client sends per round")
    parser.add_argument("--clients", default="1,4", help="concurrent clients, comma separated")
    parser.add_argument("--tiers", default="basic,standard", help=f"of {', '.join(PAIRS)}")
    parser.add_argument(
        "--poll-s", type=float, default=0.0, help="our client polls this often instead of long-polling (0: long poll)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bgremover_bench"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--load-note", default="", help="what else ran on the machine, for the report")
    parser.add_argument(
        "--our-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for our API and worker, e.g. WORKER_CONCURRENCY=2 (repeatable)",
    )
    parser.add_argument("--bare-runs", type=int, default=20)
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tiers = [t for t in args.tiers.split(",") if t]
    settings = get_settings()
    if args.bare:  # child process: one model alone, nothing else loaded
        spec = next(s for _, s in PAIRS.values() if s.file == args.bare)
        print(json.dumps(bare_limit(spec, settings.model_dir, args.bare_runs)))
        return 0
    run_fetch(settings.model_dir, assets=EVAL_ASSETS.values())
    clients = [int(c) for c in args.clients.split(",")]
    images = photos(settings.model_dir)

    bare = measure_bare(args)

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp_name:
        tmp = Path(tmp_name)
        env = our_env(args, tmp / "storage")
        run_module("db.cli", "migrate", env=env)
        users = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(max(clients))]
        tokens = []
        for user in users:
            run_module("db.admin", "grant", "--user", user, "--credits", "100000", env=env)
            tokens.append(run_module("api.tokens", "--user", user, env=env).splitlines()[-1])
        api_port, rembg_port = free_port(), free_port()
        api_cmd = [sys.executable, "-m", "api.server", "--host", "127.0.0.1", "--port", str(api_port)]
        rembg_bin = str(rembg_python().parent / "rembg")
        rembg_cmd = [
            rembg_bin,
            "s",
            "--host",
            "127.0.0.1",
            "--port",
            str(rembg_port),
            "--no-ui",
            "--log_level",
            "warning",
        ]
        our_bodies, rembg_bodies = {}, {}
        for tier in args.tiers:
            for i, data in enumerate(images):
                our_bodies[(tier, i)] = multipart("/", {"image": (f"{i}.jpg", data, "image/jpeg")}, {"tier": tier})
                rembg_bodies[(tier, i)] = multipart(
                    "/", {"file": (f"{i}.jpg", data, "image/jpeg")}, {"model": PAIRS[tier][0]}
                )
        logs = args.out / "bench-service-logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (
            process([*api_cmd, "--log-level", "warning"], env, logs / "api.log") as api,
            process([sys.executable, "-m", "worker"], env, logs / "worker.log") as worker,
            process(rembg_cmd, rembg_env(settings.model_dir, tmp / "u2net_home"), logs / "rembg.log") as rembg,
        ):
            our_base, rembg_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{rembg_port}"
            wait_http(f"{our_base}{API}/health/live", api, "our API")
            wait_http(f"{rembg_base}/api", rembg, "rembg s")
            ours = Ours(our_base, tokens, our_bodies, args.poll_s)
            sides = {
                "ours": (Side("ours", {"api": api.pid, "worker": worker.pid}, ours.one_image), our_base),
                "rembg": (Side("rembg", {"rembg": rembg.pid}, Rembg(rembg_bodies).one_image), rembg_base),
            }
            # at the most clients measured: a server's first round at a concurrency is slower, on both sides
            # (ours grew by ~400 MB in ~100 000 page faults in it; rembg spent 15 % more CPU), and that is
            # start-up, not the images per second it serves
            print("warming up both servers at the most clients measured", file=sys.stderr, flush=True)
            for tier in args.tiers:
                for name, (side, base) in sides.items():
                    warm = asyncio.run(run_round(side, base, tier, max(clients), 2, len(images)))
                    if warm.errors:
                        raise RuntimeError(f"{name} failed its warm-up: {warm.errors[0]}")
            results: list[RoundResult] = []
            for rnd in range(args.rounds):
                for tier in args.tiers:
                    for n in clients:
                        order = ["ours", "rembg"] if rnd % 2 == 0 else ["rembg", "ours"]
                        for name in order:
                            side, base = sides[name]
                            res = asyncio.run(run_round(side, base, tier, n, args.per_client, len(images)))
                            results.append(res)
                            print(
                                f"round {rnd + 1}: {tier} {n} client(s) {name}: {res.images_per_s:.2f} img/s, "
                                f"p50 {pct(res.latencies, 50):.2f} s, errors {len(res.errors)}",
                                file=sys.stderr,
                                flush=True,
                            )
    # the machine's load may change during the run: the limit is the better of before and after
    after = measure_bare(args)
    for file, figures in after.items():
        bare[file] = {key: max(value, bare[file][key]) for key, value in figures.items()}
    summary = summarise(results, bare)
    meta = {
        "cores": available_cores(),
        "load_note": args.load_note or "nothing else measured about the machine's load",
        "rounds": args.rounds,
        "per_client": args.per_client,
        "poll_s": args.poll_s,
        "our_worker": ", ".join(args.our_env) or "default settings",
        "python": platform.python_version(),
    }
    report = markdown(summary, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-service.md").write_text(report)
    payload = {"meta": meta, **summary, "rounds": [asdict(r) for r in results]}
    (args.out / "bench-service.json").write_text(json.dumps(payload, indent=2, default=str))
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
