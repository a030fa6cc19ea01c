"""Who can read ``/metrics``: in production without ``METRICS_TOKEN``, nobody on the API's port (the
API refuses to start that way unless ``METRICS_PORT`` gives metrics an internal listener of their
own); with ``METRICS_TOKEN``, only a caller sending it as a bearer token, on either port.

Before, ``/metrics`` was public in production by default, and queue depth and the oldest job's age
told an attacker when the service was saturated.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from core.webhooks import generate_secret
from tests.support.processes import api_server, env_with, free_port

SCRAPED = "bgremover_queue_scrape_ok"
ATTEMPTS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer guess"},
    {"Authorization": "Basic b3BzOm9wcw=="},
    {"X-Api-Key": "bgr_" + "A" * 43},
]


@pytest.fixture(scope="module")
def production_api(migrated_db: str) -> Iterator[tuple[str, int]]:
    """``python -m api.server`` in production with strong secrets, no ``METRICS_TOKEN`` and metrics on
    their own port."""
    metrics_port = free_port()
    env = env_with(
        BGREMOVER_ENV="production",
        JWT_SECRET=secrets.token_urlsafe(48),
        WEBHOOK_SECRET=generate_secret(),
        SIGNED_URL_SECRET=secrets.token_urlsafe(48),
        METRICS_PORT=str(metrics_port),
    )
    env.pop("WEBHOOK_ALLOW_PRIVATE", None)
    env.pop("IMAGE_URL_ALLOW_HOSTS", None)  # the suite allows its loopback image server
    env.pop("METRICS_TOKEN", None)
    with api_server(env) as base:
        yield base, metrics_port


def test_production_without_a_token_serves_metrics_to_no_one_on_the_api_port(production_api: tuple[str, int]) -> None:
    base, _ = production_api
    for headers in ATTEMPTS:
        r = httpx.get(base + "/metrics", headers=headers, timeout=10)
        assert r.status_code == 404, (headers, r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
        assert SCRAPED not in r.text and "queue_depth" not in r.text


def test_the_internal_port_serves_them_and_nothing_else(production_api: tuple[str, int]) -> None:
    _, port = production_api
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert f"{SCRAPED} 1.0" in r.text and "bgremover_queue_depth" in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    # the API's routes are not on it
    assert httpx.get(f"http://127.0.0.1:{port}/api/background-remover/health/live", timeout=10).status_code == 404


async def test_with_a_token_only_its_bearer_reads_metrics_on_either_port(settings: Settings, migrated_db: str) -> None:
    token, port = secrets.token_hex(32), free_port()
    for metrics_port in (0, port):
        app = create_app(dataclasses.replace(settings, metrics_token=token, metrics_port=metrics_port))
        async with AsyncTestClient(app=app) as client, httpx.AsyncClient(timeout=10) as http:
            if metrics_port:
                # on the API's port: not there at all, token or not
                assert (await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status_code == 404
                url = f"http://127.0.0.1:{port}/metrics"
                get = http.get
            else:
                url = "/metrics"
                get = client.get
            for headers in [
                *ATTEMPTS,
                {"Authorization": f"Bearer {token}x"},
                {"Authorization": f"Bearer {token[:-1]}"},
            ]:
                refused = await get(url, headers=headers)
                assert refused.status_code == 401, (metrics_port, headers)
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert SCRAPED not in refused.text
            for scheme in ("Bearer", "bearer"):
                ok = await get(url, headers={"Authorization": f"{scheme} {token}"})
                assert ok.status_code == 200, (metrics_port, ok.text)
                assert SCRAPED in ok.text
