"""All configuration, read once from the environment.

Every field has a default that works on a developer machine with PostgreSQL on 127.0.0.1:5432
(user ``postgres``, trust auth) and Redis on 127.0.0.1:6379. Nothing here touches the network or
the disk: the values are only read.

Some of those defaults are public (they are in this repository), so they are only safe on a
developer machine: ``BGREMOVER_ENV`` is ``production`` unless it says ``development``, and in
production :meth:`Settings.check_production`, called by every process that serves (the API factory
and the worker), refuses to start on a public secret, a short signing key or a testing-only switch.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

_HOME = Path.home()
_TRUE = {"1", "true", "yes", "on"}

ENVIRONMENTS = ("development", "production")
DEV_JWT_SECRET = "dev-only-secret-change-me-in-production"
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktd2ViaG9vay1zZWNyZXQtY2hhbmdlLW1l"
# Every secret this repository has ever shipped as a default (settings, compose.yaml): anyone can
# sign with them, so a deployment that still uses one has no secret at all.
PUBLIC_JWT_SECRETS = frozenset({DEV_JWT_SECRET, "change-me-to-a-long-random-secret-of-32-bytes-or-more"})
PUBLIC_WEBHOOK_SECRETS = frozenset({DEV_WEBHOOK_SECRET})
DEV_SIGNED_URL_SECRET = "dev-only-signed-url-secret-change-me-in-production"
PUBLIC_SIGNED_URL_SECRETS = frozenset({DEV_SIGNED_URL_SECRET})
SIGNED_URL_MIN_KEY_BYTES = 32
"""HMAC-SHA256 signs the links: a key shorter than the hash could be guessed offline from one link."""
METRICS_TOKEN_MIN_BYTES = 32
"""A bearer token a scraper sends: as long as the other secrets, so it cannot be guessed."""
# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
HMAC_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

N = TypeVar("N", int, float)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_number(name: str, default: N, parse: Callable[[str], N], what: str) -> N:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be {what}, got {raw!r}") from exc


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def _env_optional_int(name: str) -> int | None:
    raw = os.environ.get(name)
    return None if raw is None or raw == "" else _env_int(name, 0)


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser() if raw else default


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"environment variable {name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _s3_endpoint() -> str:
    return _env("S3_ENDPOINT_URL", "") or _env("AWS_ENDPOINT_URL_S3", "") or _env("AWS_ENDPOINT_URL", "")


class UnsafeSettings(SystemExit):
    """Production settings that must not serve. A ``SystemExit``, so that whichever server called the
    factory (uvicorn, ``python -m worker``, another ASGI server) stops with this message and status 1
    instead of a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"bgremover refuses to start with BGREMOVER_ENV=production:\n{listed}\n"
            "Fix the settings above (see docs/security.md), or set BGREMOVER_ENV=development on a developer machine."
        )


@dataclass(frozen=True)
class Settings:
    env: str = field(default_factory=lambda: _env_choice("BGREMOVER_ENV", "production", ENVIRONMENTS))
    """``production`` (the default) refuses unsafe settings at start-up; ``development`` only warns."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bgremover")
    )
    """PostgreSQL DSN; the source of truth for jobs, batches, subscriptions and credits."""

    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    """Redis DSN used by the arq queue and the worker heartbeat."""

    queue_name: str = field(default_factory=lambda: _env("QUEUE_NAME", "bgremover:queue"))
    """arq queue name; workers and the API must agree on it."""

    storage_dir: Path = field(
        default_factory=lambda: _env_path("STORAGE_DIR", _HOME / ".local" / "share" / "bgremover" / "storage")
    )
    """Local directory for uploads, results and batch ZIPs (when ``STORAGE_URL`` is empty)."""

    storage_url: str = field(default_factory=lambda: _env("STORAGE_URL", ""))
    """``file:///path`` or ``s3://bucket/prefix`` (docs/scaling.md); empty = ``STORAGE_DIR``."""

    s3_endpoint_url: str = field(default_factory=lambda: _s3_endpoint())
    """An S3-compatible server (MinIO, moto, Ceph...); empty = AWS itself."""

    s3_region: str = field(default_factory=lambda: _env("AWS_REGION", "") or _env("AWS_DEFAULT_REGION", "us-east-1"))
    s3_access_key_id: str = field(default_factory=lambda: _env("AWS_ACCESS_KEY_ID", ""))
    s3_secret_access_key: str = field(default_factory=lambda: _env("AWS_SECRET_ACCESS_KEY", ""), repr=False)
    s3_session_token: str = field(default_factory=lambda: _env("AWS_SESSION_TOKEN", ""), repr=False)
    s3_ambient_credentials: bool = field(
        default_factory=lambda: (
            any(
                _env(name, "")
                for name in (
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                )
            )
            or _env("S3_INSTANCE_CREDENTIALS", "0") in _TRUE
        )
    )
    """Credentials the S3 client finds by itself (a web identity, a container or instance role) instead
    of ``AWS_ACCESS_KEY_ID``: without either, an ``s3://`` ``STORAGE_URL`` refuses to start."""

    s3_path_style: bool = field(
        default_factory=lambda: _env("S3_FORCE_PATH_STYLE", "1" if _s3_endpoint() else "0") in _TRUE
    )
    """``http://endpoint/bucket/key`` instead of ``http://bucket.endpoint/key``: what MinIO and moto need
    (on by default when an endpoint is set)."""

    model_dir: Path = field(default_factory=lambda: _env_path("MODEL_DIR", _HOME / ".cache" / "bgremover" / "models"))
    """Cache of verified ONNX weights (filled by ``make models``; never inside the repository)."""

    allowed_model_licences_raw: str = field(default_factory=lambda: _env("ALLOWED_MODEL_LICENCES", ""))
    """Comma-separated SPDX ids of the weight licences this deployment may fetch and load (empty: all).
    ``Apache-2.0,MIT`` keeps out IS-Net (AGPL-3.0) and Robust Video Matting (GPL-3.0); the tiers that
    need them are then unavailable (docs/models.md)."""

    jwt_secret: str = field(default_factory=lambda: _env("JWT_SECRET", DEV_JWT_SECRET))
    """Key that signs and verifies bearer tokens (HS256), or a PEM public key for RS256."""

    jwt_algorithm: str = field(default_factory=lambda: _env("JWT_ALGORITHM", "HS256"))
    jwt_issuer: str = field(default_factory=lambda: _env("JWT_ISSUER", "bgremover"))
    jwt_audience: str = field(default_factory=lambda: _env("JWT_AUDIENCE", "bgremover-api"))
    """An empty ``JWT_ISSUER`` or ``JWT_AUDIENCE`` switches that check off (tokens of an issuer that sets
    neither claim, such as Lumiku's); the signature, algorithm and ``exp`` are always checked."""

    jwt_user_claim: str = field(default_factory=lambda: _env("JWT_USER_CLAIM", "sub").strip() or "sub")
    """The claim naming the user: ``sub``, or ``userId`` for Lumiku's tokens."""

    jwt_max_lifetime_s: int = field(default_factory=lambda: _env_int("JWT_MAX_LIFETIME_S", 7 * 24 * 3600))
    """Tokens whose ``exp - iat`` is longer are refused: a leaked token is not a key for life."""

    max_image_bytes: int = field(default_factory=lambda: _env_int("MAX_IMAGE_BYTES", 20 * 1024 * 1024))
    """Largest accepted upload, per image."""

    max_megapixels: float = field(default_factory=lambda: _env_float("MAX_MEGAPIXELS", 50.0))
    """Largest decoded image; checked from the header, before any pixel is decoded."""

    min_side: int = field(default_factory=lambda: _env_int("MIN_IMAGE_SIDE", 16))
    batch_min_images: int = field(default_factory=lambda: _env_int("BATCH_MIN_IMAGES", 2))
    batch_max_images: int = field(default_factory=lambda: _env_int("BATCH_MAX_IMAGES", 500))

    db_pool_min: int | None = field(default_factory=lambda: _env_optional_int("DB_POOL_MIN"))
    """Unset: the API opens its whole pool at start (a first burst must not wait for new PostgreSQL
    sessions), a worker one connection (it runs a job at a time)."""
    db_pool_max: int = field(default_factory=lambda: _env_int("DB_POOL_MAX", 10))
    db_timeout_s: float = field(default_factory=lambda: _env_float("DB_TIMEOUT_S", 5.0))
    """Connect and statement timeout; a request never hangs longer on a dead database."""

    worker_concurrency: int = field(default_factory=lambda: _env_int("WORKER_CONCURRENCY", 0))
    """Model runs one worker process does at once. 0 (auto): light models (320² inputs) one single-threaded
    run per core side by side, a heavy model's run alone on every core (:mod:`engine.model_slots`); N:
    N runs of any model, cores ÷ N threads each. One more image than the runs is in flight, so its decoding
    and encoding overlap the model runs of the others."""

    ort_intra_op_threads: int = field(default_factory=lambda: _env_int("ORT_INTRA_OP_THREADS", 0))
    """onnxruntime threads per run, at most the budget: 0 = every core for a heavy run (auto) or
    cores // worker_concurrency."""

    ort_mem_arena: bool = field(default_factory=lambda: _env("ORT_MEM_ARENA", "1") in _TRUE)
    """Keep onnxruntime's activation memory between runs. Our models have fixed input sizes, so it is a
    fixed amount per model (not a creeping high-water mark); without it every run maps and zero-fills
    its activations afresh, which cost 20–25 % more CPU per inference (docs/bench.md). 0 trades that
    CPU for a lower idle RSS."""

    worker_poll_delay_s: float = field(default_factory=lambda: _env_float("WORKER_POLL_DELAY_S", 0.05))
    """How often an idle worker looks at the queue: a job waits on average half of this before it starts.
    Each look is three Redis commands, under 0.9 ms of CPU (measured on the loaded 2-core machine), so
    0.05 s costs an idle worker at most ~2 % of a core."""

    shutdown_grace_s: int = field(default_factory=lambda: _env_int("WORKER_SHUTDOWN_GRACE_S", 30))
    """On SIGTERM a worker stops taking jobs and lets running ones finish for this long; what is left
    is handed back to the queue."""

    worker_metrics_port: int = field(default_factory=lambda: _env_int("WORKER_METRICS_PORT", 0))
    """Port of the worker's Prometheus endpoint (``/metrics``); 0 = not served."""

    worker_metrics_host: str = field(default_factory=lambda: _env("WORKER_METRICS_HOST", "127.0.0.1"))
    """Address it binds; ``0.0.0.0`` in a container that Prometheus scrapes from another one."""

    metrics_token: str = field(default_factory=lambda: _env("METRICS_TOKEN", ""), repr=False)
    """When set, the API's ``GET /metrics`` wants ``Authorization: Bearer <token>``. Empty: open in
    development; production refuses to start unless ``METRICS_PORT`` moves metrics off the public port
    (queue depth and the oldest job's age tell an attacker when the service is saturated)."""

    metrics_port: int = field(default_factory=lambda: _env_int("METRICS_PORT", 0))
    """Serve the API's ``/metrics`` on a listener of its own (``METRICS_HOST:METRICS_PORT``) and not on the
    API's port (404 there); 0 = on the API's port."""

    metrics_host: str = field(default_factory=lambda: _env("METRICS_HOST", "127.0.0.1"))
    """Address the ``METRICS_PORT`` listener binds: keep it internal (``0.0.0.0`` only inside a container
    whose port is not published)."""

    log_format: str = field(default_factory=lambda: _env_choice("LOG_FORMAT", "text", ("text", "json")))
    """``json``: one JSON object per line (request id, job id, hashed user id) for a log pipeline."""

    worker_nice: int = field(default_factory=lambda: _env_int("WORKER_NICE", 19))
    """CPU priority increment for worker processes: where API and workers share cores, inference yields
    to API requests so polling stays fast while the workers are busy (0 = same priority)."""

    heartbeat_interval_s: int = field(default_factory=lambda: _env_int("WORKER_HEARTBEAT_INTERVAL_S", 10))
    heartbeat_ttl_s: int = field(default_factory=lambda: _env_int("WORKER_HEARTBEAT_TTL_S", 30))
    """A worker whose last heartbeat is older than this is considered gone."""

    result_retention_days: int = field(default_factory=lambda: _env_int("RESULT_RETENTION_DAYS", 7))

    max_form_field_bytes: int = field(default_factory=lambda: _env_int("MAX_FORM_FIELD_BYTES", 8 * 1024))
    """Longest text part of a multipart upload form (``tier``, options, ``webhook_url``, ``name``);
    a longer one is refused with 413 while it arrives, never buffered whole. remove.bg's
    ``image_file_b64`` is an image, bounded like one."""

    max_batch_bytes: int = field(default_factory=lambda: _env_int("MAX_BATCH_BYTES", 1024 * 1024 * 1024))
    """Largest multipart body of one batch upload."""

    job_timeout_s: int = field(default_factory=lambda: _env_int("JOB_TIMEOUT_S", 300))
    """A single image taking longer is cancelled by the worker (and retried, then failed)."""

    job_max_tries: int = field(default_factory=lambda: _env_int("JOB_MAX_TRIES", 3))
    """Attempts for transient failures (storage, database); a bad image is never retried."""

    sweep_interval_s: int = field(default_factory=lambda: _env_int("SWEEP_INTERVAL_S", 60))
    requeue_after_s: int = field(default_factory=lambda: _env_int("REQUEUE_AFTER_S", 30))
    """A pending job this old that Redis does not know is enqueued again."""

    worker_tiers: str = field(default_factory=lambda: _env("WORKER_TIERS", ""))
    """Comma-separated tiers this worker loads; empty = every tier whose model is installed."""

    webhook_secret: str = field(default_factory=lambda: _env("WEBHOOK_SECRET", DEV_WEBHOOK_SECRET))
    """Legacy only: deliveries are signed with each user's own secret. This one signs the deliveries of
    work accepted before per-user secrets existed, whose user has none yet; empty = those fail."""

    webhook_concurrency: int = field(default_factory=lambda: _env_int("WEBHOOK_CONCURRENCY", 4))
    """Webhook deliveries in flight per worker process, on their own queue: never an inference slot."""

    webhook_timeout_s: float = field(default_factory=lambda: _env_float("WEBHOOK_TIMEOUT_S", 5.0))
    """Bound on one delivery attempt as a whole (connecting takes at most 3 s of it)."""

    webhook_max_pending_per_user: int = field(default_factory=lambda: _env_int("WEBHOOK_MAX_PENDING_PER_USER", 50))
    """Deliveries of one user waiting for a retry; past it, new ones fail at once (not sent)."""

    webhook_max_pending: int = field(default_factory=lambda: _env_int("WEBHOOK_MAX_PENDING", 1000))
    """The same bound over all users."""

    webhook_allow_private: bool = field(default_factory=lambda: _env("WEBHOOK_ALLOW_PRIVATE", "0") in _TRUE)
    """Allow webhook targets on private, loopback and link-local addresses (local testing only)."""

    webhook_allowed_ports: str = field(default_factory=lambda: _env("WEBHOOK_ALLOWED_PORTS", "80,443"))
    """Comma-separated ports a webhook URL may name (``*`` = any): a webhook is not a port scanner of the
    internet, nor a way to reach a public host's non-HTTP services."""

    webhook_dns_threads: int = field(default_factory=lambda: _env_int("WEBHOOK_DNS_THREADS", 8))
    """Threads of an API process that resolve webhook hosts at submission; each user holds at most one."""

    webhook_dns_negative_ttl_s: float = field(default_factory=lambda: _env_float("WEBHOOK_DNS_NEGATIVE_TTL_S", 5.0))
    """A host whose lookup failed or timed out is refused at once for this long, without asking again."""

    image_url_allow_hosts: str = field(default_factory=lambda: _env("IMAGE_URL_ALLOW_HOSTS", ""))
    """Comma-separated host names, IPs or CIDRs that ``image_url`` / ``bg_image_url`` may reach even
    though they are private (an internal CDN): a name is allowed whatever it resolves to, an address
    when it is inside an entry. Everything else must be public (docs/security.md)."""

    image_url_allowed_ports: str = field(default_factory=lambda: _env("IMAGE_URL_ALLOWED_PORTS", "80,443"))
    """Comma-separated ports an image URL may name (``*`` = any)."""

    image_url_timeout_s: float = field(default_factory=lambda: _env_float("IMAGE_URL_TIMEOUT_S", 15.0))
    """Bound on fetching one image URL as a whole: lookups, redirects, connecting and the body."""

    image_url_allow_loopback_for_tests: bool = field(
        default_factory=lambda: _env("IMAGE_URL_ALLOW_LOOPBACK_FOR_TESTS", "0") in _TRUE
    )
    """Lets production start with a loopback entry in ``IMAGE_URL_ALLOW_HOSTS`` (a test deployment
    whose image server runs on the same host); otherwise such an entry refuses to start."""

    idempotency_ttl_hours: int = field(default_factory=lambda: _env_int("IDEMPOTENCY_TTL_HOURS", 24))

    subscription_plans_json: str = field(default_factory=lambda: _env("SUBSCRIPTION_PLANS", ""))
    """JSON overriding the plans of ``core.pricing.DEFAULT_PLANS`` (same shape)."""

    rate_limit_per_s: float = field(default_factory=lambda: _env_float("RATE_LIMIT_PER_S", 20.0))
    """Sustained requests per second per user (token bucket in Redis); 0 disables rate limiting."""

    rate_limit_burst: int = field(default_factory=lambda: _env_int("RATE_LIMIT_BURST", 100))
    """Requests a user may make at once before the sustained rate applies."""

    max_queued_images_per_user: int = field(default_factory=lambda: _env_int("MAX_QUEUED_IMAGES_PER_USER", 1000))
    """Images one user may have pending or processing; more is refused with 429 until some finish."""

    max_pending_bytes_per_user: int = field(default_factory=lambda: _env_int("MAX_PENDING_BYTES_PER_USER", 2 * 1024**3))
    """Bytes of uploads one user may have stored and not yet processed; more is refused with 429."""

    max_queue_depth: int = field(default_factory=lambda: _env_int("MAX_QUEUE_DEPTH", 5000))
    """When the queue is deeper than this, submissions get 503 with Retry-After instead of waiting forever."""

    admin_users: str = field(default_factory=lambda: _env("ADMIN_USERS", ""))
    """Comma-separated user ids allowed to grant credits through the API (nobody when empty)."""

    api_host: str = field(default_factory=lambda: _env("API_HOST", "127.0.0.1"))
    api_port: int = field(default_factory=lambda: _env_int("API_PORT", 8000))

    header_timeout_s: float = field(default_factory=lambda: _env_float("HEADER_TIMEOUT_S", 10.0))
    """``python -m api.server`` closes a connection whose request head is not complete this long after
    it began: a client trickling header bytes (slowloris) cannot hold a connection."""

    keep_alive_timeout_s: int = field(default_factory=lambda: _env_int("KEEP_ALIVE_TIMEOUT_S", 5))
    """An idle keep-alive connection is closed after this long."""

    max_connections: int = field(default_factory=lambda: _env_int("MAX_CONNECTIONS", 500))
    """Open connections one API process serves; beyond it a request gets ``503 too_many_connections``."""

    max_header_bytes: int = field(default_factory=lambda: _env_int("MAX_HEADER_BYTES", 16 * 1024))
    """An incomplete request head (request line and headers) larger than this is refused with 400."""

    max_waits: int = field(default_factory=lambda: _env_int("MAX_WAITS", 400))
    """Requests one API process holds open while they wait for a job (long polls, remove.bg, Lumiku's
    ``POST /remove``), all users together; never more than 4/5 of ``MAX_CONNECTIONS``, so waits cannot
    take the connections other requests need. More are answered at once."""

    max_waits_per_user: int = field(default_factory=lambda: _env_int("MAX_WAITS_PER_USER", 20))
    """What one user may hold, across every API process (counted in Redis; per process while Redis is
    unreachable)."""

    api_shutdown_grace_s: float = field(default_factory=lambda: _env_float("API_SHUTDOWN_GRACE_S", 8.0))
    """After SIGTERM, requests still running this long are cancelled so that the API exits (waits end
    at once anyway, with a retryable answer)."""

    max_api_keys_per_user: int = field(default_factory=lambda: _env_int("MAX_API_KEYS_PER_USER", 10))
    """Active (not revoked) API keys one user may hold; creating more is refused with 409."""

    removebg_tier: str = field(default_factory=lambda: _env("REMOVEBG_TIER", "standard"))
    """The tier (and so the price) of every image sent to the remove.bg-compatible ``POST /v1.0/removebg``."""

    removebg_wait_s: float = field(default_factory=lambda: _env_float("REMOVEBG_WAIT_S", 60.0))
    """How long ``POST /v1.0/removebg`` waits for its job before answering 504 (the job is not lost)."""
    signed_url_secret: str = field(default_factory=lambda: _env("SIGNED_URL_SECRET", DEV_SIGNED_URL_SECRET))
    """HMAC-SHA256 key of the result and ZIP links that work without a bearer token."""

    signed_url_ttl_s: int = field(default_factory=lambda: _env_int("SIGNED_URL_TTL_S", 900))
    """How long a signed link works (rounded up to the next minute, so repeated polls get the same link)."""

    public_base_url: str = field(default_factory=lambda: _env("PUBLIC_BASE_URL", "").strip().rstrip("/"))
    """The API's public origin (``https://api.example.com``), put in front of signed links so that a page
    on another origin can use them; empty: links are paths, resolved against the API's own origin."""

    cors_allowed_origins: str = field(default_factory=lambda: _env("CORS_ALLOWED_ORIGINS", ""))
    """Comma-separated origins (``https://app.example.com``) whose pages may call the API from a browser;
    none when empty."""

    lumiku_wait_s: float = field(default_factory=lambda: _env_float("LUMIKU_WAIT_S", 55.0))
    """How long ``POST /remove`` and ``/remove-single`` wait for the result before answering with the job
    still under way (the original clients read the finished job from that answer)."""

    @property
    def allowed_model_licences(self) -> frozenset[str] | None:
        """Upper-cased SPDX ids (SPDX matching ignores case); None = every licence."""
        ids = frozenset(p.strip().upper() for p in self.allowed_model_licences_raw.split(",") if p.strip())
        return ids or None

    def licence_allowed(self, spdx_id: str) -> bool:
        allowed = self.allowed_model_licences
        return allowed is None or spdx_id.upper() in allowed

    @property
    def webhook_ports(self) -> frozenset[int] | None:
        """The ports a webhook may target; None = any."""
        raw = [p.strip() for p in self.webhook_allowed_ports.split(",") if p.strip()]
        if "*" in raw:
            return None
        return frozenset(int(p) for p in raw)

    @property
    def image_url_ports(self) -> frozenset[int] | None:
        """The ports an image URL may name; None = any."""
        raw = [p.strip() for p in self.image_url_allowed_ports.split(",") if p.strip()]
        if "*" in raw:
            return None
        return frozenset(int(p) for p in raw)

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_allowed_origins.split(",") if o.strip()]

    def db_pool_opened(self, default: int) -> int:
        """Connections a pool opens at start: ``DB_POOL_MIN`` when set, else the process's own default
        (the API its whole pool, a worker one connection)."""
        return default if self.db_pool_min is None else self.db_pool_min

    @property
    def heartbeat_key(self) -> str:
        return f"{self.queue_name}:workers"

    @property
    def worker_tier_list(self) -> list[str] | None:
        names = [t.strip() for t in self.worker_tiers.split(",") if t.strip()]
        return names or None

    @property
    def admin_user_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.admin_users.split(",") if u.strip())

    def production_problems(self) -> list[str]:
        """Why these settings are unsafe to serve in production; empty when they are not."""
        problems: list[str] = []
        if self.jwt_secret in PUBLIC_JWT_SECRETS:
            problems.append(
                "JWT_SECRET is a default published in the bgremover repository: anyone can sign tokens for any "
                "user. Set a random value of at least 32 bytes (openssl rand -base64 48)."
            )
        elif (min_bytes := HMAC_MIN_KEY_BYTES.get(self.jwt_algorithm)) and len(self.jwt_secret.encode()) < min_bytes:
            problems.append(
                f"JWT_SECRET is {len(self.jwt_secret.encode())} bytes; {self.jwt_algorithm} needs at least "
                f"{min_bytes}, or the key can be guessed offline from any token it signed."
            )
        if self.webhook_secret in PUBLIC_WEBHOOK_SECRETS:
            problems.append(
                "WEBHOOK_SECRET is a default published in the bgremover repository: anyone can forge webhooks "
                "that receivers will trust. Generate one: "
                "python -c 'from core.webhooks import generate_secret; print(generate_secret())'."
            )
        if self.signed_url_secret in PUBLIC_SIGNED_URL_SECRETS:
            problems.append(
                "SIGNED_URL_SECRET is a default published in the bgremover repository: anyone can sign links "
                "to every user's results. Set a random value of at least 32 bytes (openssl rand -base64 48)."
            )
        elif len(self.signed_url_secret.encode()) < SIGNED_URL_MIN_KEY_BYTES:
            problems.append(
                f"SIGNED_URL_SECRET is {len(self.signed_url_secret.encode())} bytes; HMAC-SHA256 needs at least "
                f"{SIGNED_URL_MIN_KEY_BYTES}, or the key can be guessed offline from any signed link."
            )
        if not self.image_url_allow_loopback_for_tests and _names_loopback(self.image_url_allow_hosts):
            problems.append(
                "IMAGE_URL_ALLOW_HOSTS lets image URLs reach this host's loopback interface (its database, Redis, "
                "metrics); remove the loopback entry, or set IMAGE_URL_ALLOW_LOOPBACK_FOR_TESTS=1 on a test "
                "deployment."
            )
        if self.webhook_allow_private:
            problems.append(
                "WEBHOOK_ALLOW_PRIVATE=1 lets any user make the service send requests into its own network "
                "(loopback, private and cloud metadata addresses); it is for local testing only."
            )
        return problems

    def api_production_problems(self) -> list[str]:
        """:meth:`production_problems` plus what only the API serves (its ``/metrics``)."""
        problems = self.production_problems()
        if self.metrics_token and len(self.metrics_token.encode()) < METRICS_TOKEN_MIN_BYTES:
            problems.append(
                f"METRICS_TOKEN is {len(self.metrics_token.encode())} bytes long; use at least "
                f"{METRICS_TOKEN_MIN_BYTES} random ones (openssl rand -hex 32), or a scraper can guess it."
            )
        if not self.metrics_token and self.metrics_port <= 0:
            problems.append(
                "METRICS_TOKEN is empty, so GET /metrics would be public on the API's port (queue depth and the "
                "oldest job's age time an attack). Set METRICS_TOKEN (openssl rand -hex 32), or serve metrics "
                "on an internal listener of their own with METRICS_PORT (and METRICS_HOST)."
            )
        return problems

    def check_production(self, log: logging.Logger, *, api: bool = False) -> None:
        """Called by every process before it serves (``api=True`` from the API's factory): unsafe
        settings stop it in production (:class:`UnsafeSettings`) and are logged as warnings in development."""
        problems = self.api_production_problems() if api else self.production_problems()
        if problems and self.env == "production":
            raise UnsafeSettings(problems)
        for problem in problems:
            log.warning("BGREMOVER_ENV=development; in production this would refuse to start: %s", problem)


def _names_loopback(allow_hosts: str) -> bool:
    for entry in (e.strip().lower() for e in allow_hosts.split(",")):
        if not entry:
            continue
        if entry == "localhost" or entry.endswith(".localhost"):
            return True
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            continue
        loopback = ipaddress.ip_network("127.0.0.0/8" if network.version == 4 else "::1/128")
        if network.overlaps(loopback):
            return True
    return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
