"""Liveness and readiness; public (no token), so orchestrators can probe them."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from api.problems import PROBLEM_MEDIA_TYPE, problem_body, request_id_of
from api.schemas import Liveness, Readiness, ReadinessCheck
from api.services import Services
from api.web import openapi_examples as ex
from core.errors import DatabaseUnavailable
from core.heartbeats import live_workers
from core.tiers import TIERS, unavailable_reason


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="live", summary="Liveness: the process answers", responses=ex.LIVE_RESPONSES)
    async def live(self) -> Liveness:
        """Always 200 while the process runs; it does not touch the database or Redis."""
        return Liveness(status="ok")

    @get(
        "/ready",
        operation_id="ready",
        summary="Readiness: database reachable, no pending migrations, Redis reachable, a worker alive",
        responses=ex.READY_RESPONSES,
    )
    async def ready(self, request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Response[Any]:
        """200 when the service can do its work; otherwise 503 problem+json listing what is wrong."""
        settings, gate = services.settings, services.schema_gate
        checks: dict[str, ReadinessCheck] = {}
        pending: list[str] = []
        missing: list[str] = []
        try:
            status = await gate.recent()
            checks["database"] = ReadinessCheck(ok=True, detail="reachable")
            checks["schema"] = ReadinessCheck(ok=status.ready, detail=status.describe())
            pending, missing = status.pending_migrations, status.missing_tables
        except DatabaseUnavailable as exc:
            checks["database"] = ReadinessCheck(ok=False, detail=exc.detail)
            checks["schema"] = ReadinessCheck(ok=False, detail="unknown: database unreachable")
        redis = services.redis
        workers: list[str] = []
        try:
            await asyncio.wait_for(redis.ping(), timeout=2.0)
            checks["redis"] = ReadinessCheck(ok=True, detail="reachable")
            workers = await live_workers(redis, settings.heartbeat_key, settings.heartbeat_ttl_s)
            checks["worker"] = ReadinessCheck(
                ok=bool(workers),
                detail=f"{len(workers)} worker(s) seen in the last {settings.heartbeat_ttl_s}s"
                if workers
                else f"no worker heartbeat in the last {settings.heartbeat_ttl_s}s",
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            checks["redis"] = ReadinessCheck(ok=False, detail=f"unreachable: {type(exc).__name__}")
            checks["worker"] = ReadinessCheck(ok=False, detail="unknown: Redis unreachable")
        except Exception as exc:  # redis-py raises its own ConnectionError/TimeoutError hierarchy
            checks["redis"] = ReadinessCheck(ok=False, detail=f"unreachable: {type(exc).__name__}")
            checks["worker"] = ReadinessCheck(ok=False, detail="unknown: Redis unreachable")
        storage = services.storage
        try:
            # A HEAD of a key that need not exist: answered (yes or no) means reachable and authorised.
            await asyncio.wait_for(storage.exists("health/probe"), timeout=2.0)
            checks["storage"] = ReadinessCheck(ok=True, detail="reachable")
        except (OSError, TimeoutError) as exc:
            checks["storage"] = ReadinessCheck(ok=False, detail=f"unreachable: {type(exc).__name__}")
        reasons = {name: unavailable_reason(name, settings) for name in TIERS}
        tiers = {name: reason is None for name, reason in reasons.items()}
        unavailable = [f"{name}: {reason}" for name, reason in reasons.items() if reason is not None]
        checks["models"] = ReadinessCheck(
            ok=len(unavailable) < len(tiers),
            detail="unavailable tier(s): " + "; ".join(unavailable)
            if unavailable
            else "every tier's model is installed",
        )
        body = Readiness(
            status="ready" if all(c.ok for c in checks.values()) else "not_ready",
            checks=checks,
            pending_migrations=pending,
            missing_tables=missing,
            workers=len(workers),
            tiers=tiers,
        )
        if body.status == "ready":
            return Response(content=body, status_code=200)
        code = _first_failure_code(checks)
        failing = [name for name, c in checks.items() if not c.ok]
        detail = "Not ready: " + "; ".join(f"{name}: {checks[name].detail}" for name in failing)
        problem = {
            **problem_body(
                status=503,
                code=code,
                title="Service Unavailable",
                detail=detail,
                instance=request.url.path,
                request_id=request_id_of(request),
            ),
            "pendingMigrations": pending,
            "missingTables": missing,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
            "workers": len(workers),
            "tiers": tiers,
        }
        return Response(content=problem, status_code=503, media_type=PROBLEM_MEDIA_TYPE, headers={"Retry-After": "5"})


def _first_failure_code(checks: dict[str, ReadinessCheck]) -> str:
    codes = {
        "database": "database_unavailable",
        "schema": "schema_not_ready",
        "redis": "redis_unavailable",
        "worker": "no_worker",
        "storage": "storage_unavailable",
        "models": "no_model_installed",
    }
    for name, code in codes.items():
        if name in checks and not checks[name].ok:
            return code
    return "not_ready"
