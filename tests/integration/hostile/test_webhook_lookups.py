"""Webhook targets at submission: one user's slow name server cannot starve the others' lookups, and a
webhook reaches only the allowed ports."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.integration.hostile.helpers import MakeUser, assert_problem, small_png
from tests.support.api_client import API, User, submit, webhook_secret
from tests.support.processes import free_port

SLOW_HOST = "ns-is-slow.attacker.example"


@pytest.fixture
def webhook_api_url(settings: Settings, migrated_db: str, queue: ArqRedis) -> Iterator[str]:
    """The app served by uvicorn on a thread of this process (requests really run side by side, and
    the name server below is the one it uses); loopback targets allowed, as the suite's receivers are."""
    app = create_app(dataclasses.replace(settings, webhook_allow_private=True, webhook_dns_threads=4))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def slow_name_server(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The attacker's name server: every lookup of its host blocks for 4 s, then fails (as an unanswered
    query does). The system resolver answers every other name, so the honest user's is really resolved."""
    real = socket.getaddrinfo
    asked: list[str] = []
    lock = threading.Lock()

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == SLOW_HOST:
            with lock:
                asked.append(host)
            time.sleep(4)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


async def test_a_slow_name_server_does_not_fail_another_users_webhook_submission(
    webhook_api_url: str, make_user: MakeUser, slow_name_server: list[str]
) -> None:
    attacker, honest = await make_user(1000), await make_user(1000)
    async with httpx.AsyncClient(base_url=webhook_api_url, timeout=60) as webhook_api:
        await _run_attack(webhook_api, attacker, honest, slow_name_server)


async def _run_attack(webhook_api: Any, attacker: User, honest: User, slow_name_server: list[str]) -> None:
    for user in (attacker, honest):
        await webhook_secret(webhook_api, user)
    image = small_png()
    attack = [
        asyncio.create_task(submit(webhook_api, attacker, image, webhook_url=f"http://{SLOW_HOST}/hook"))
        for _ in range(8)
    ]
    await asyncio.sleep(0.5)  # the attacker's lookups are running
    honest_answer = await submit(webhook_api, honest, image, webhook_url="http://localhost/hook")
    assert honest_answer.status_code == 202, honest_answer.text
    # nothing listens at that hook: left queued, a later test's worker would keep retrying the delivery
    cancelled = await webhook_api.delete(f"{API}/jobs/{honest_answer.json()['id']}", headers=honest.headers)
    assert cancelled.status_code == 200, cancelled.text

    answers = await asyncio.gather(*attack)
    busy = [a for a in answers if a.status_code == 429]
    assert len(busy) >= 7, [a.text for a in answers]
    assert_problem(busy[0], 429, "webhook_lookup_busy")
    assert busy[0].headers["retry-after"]
    assert len(slow_name_server) == 1, "one lookup of this user's at a time"

    # a failed lookup is remembered for a few seconds: refused at once, the name server not asked again
    started = time.monotonic()
    again = await submit(webhook_api, attacker, image, webhook_url=f"http://{SLOW_HOST}/hook")
    assert_problem(again, 422, "invalid_webhook_url")
    assert time.monotonic() - started < 1.5
    assert len(slow_name_server) == 1


async def test_a_webhook_on_a_port_other_than_80_or_443_is_422(
    settings: Settings, migrated_db: str, queue: ArqRedis, make_user: MakeUser
) -> None:
    app = create_app(dataclasses.replace(settings, webhook_allowed_ports="80,443"))
    async with AsyncTestClient(app=app, timeout=60) as client:
        user = await make_user(1000)
        await webhook_secret(client, user)
        for url in ("http://93.184.216.34:22/hook", "https://93.184.216.34:6379/hook", "http://93.184.216.34:8080/"):
            answer = await submit(client, user, small_png(), webhook_url=url)
            problem = assert_problem(answer, 422, "invalid_webhook_url")
            assert problem["allowedPorts"] == [80, 443], problem
