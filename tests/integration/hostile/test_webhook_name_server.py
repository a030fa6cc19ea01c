"""Webhook host lookups against a real, hostile name server: the API server as a process whose resolver
asks a UDP name server of the test's (``tests/support/name_server.py``); nothing is patched.

An attacker names hosts whose name server never answers: each lookup holds a resolver thread for the
resolver's whole timeout. Before issue 20 four threads served every user, so eight such submissions
made an honest user's webhook submission wait past the 2 s deadline and fail with 422.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.hostile.helpers import MakeUser, assert_problem, small_png
from tests.support.api_client import API, submit, webhook_secret
from tests.support.name_server import NameServer, resolving_with, unavailable
from tests.support.processes import api_server, env_with

pytestmark = pytest.mark.skipif(bool(reason := unavailable()), reason=reason or "")

HONEST_HOST = "hooks.honest-receiver.test"
PUBLIC_ADDRESS = "93.184.216.34"


def _http(base_url: str) -> Any:
    """A plain HTTP client to the server; the shared submit helpers take it like the in-process one."""
    return httpx.AsyncClient(base_url=base_url, timeout=60)


@pytest.fixture(scope="module")
def name_server() -> Iterator[NameServer]:
    with NameServer({HONEST_HOST: PUBLIC_ADDRESS}, slow=("slow-",)) as server:
        yield server


@pytest.fixture(scope="module")
def api_asking(name_server: NameServer, migrated_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real API server (four lookup threads, as many as before the fix) resolving with ``name_server``."""
    prefix = resolving_with(name_server, tmp_path_factory.mktemp("dns") / "resolv.conf")
    env = env_with(WEBHOOK_DNS_THREADS="4", WEBHOOK_DNS_NEGATIVE_TTL_S="2")
    with api_server(env, prefix=prefix) as url:
        yield url


async def test_a_slow_name_server_does_not_fail_an_honest_users_webhook_submission(
    api_asking: str, name_server: NameServer, make_user: MakeUser
) -> None:
    attacker, honest = await make_user(1000), await make_user(1000)
    image = small_png()
    async with _http(api_asking) as http:
        for user in (attacker, honest):
            await webhook_secret(http, user)
        attack = [
            asyncio.create_task(submit(http, attacker, image, webhook_url=f"https://slow-{i}.attacker.test/hook"))
            for i in range(8)
        ]
        await asyncio.sleep(0.5)  # the attacker's lookups have reached the name server
        assert name_server.queries("slow-") > 0
        started = time.monotonic()
        answer = await submit(http, honest, image, webhook_url=f"https://{HONEST_HOST}/hook")
        assert answer.status_code == 202, answer.text
        assert time.monotonic() - started < 2.0, "the honest lookup did not queue behind the attacker's"
        attacked = await asyncio.gather(*attack)
        # its receiver exists only in this name server: left queued, a worker of a later test would
        # process it and keep retrying the delivery (a burst worker then never finds its queues empty)
        cancelled = await http.delete(f"{API}/jobs/{answer.json()['id']}", headers=honest.headers)
        assert cancelled.status_code == 200, cancelled.text

    busy = [a for a in attacked if a.status_code == 429]
    assert len(busy) >= 6, [a.text[:200] for a in attacked]
    assert_problem(busy[0], 429, "webhook_lookup_busy")
    assert int(busy[0].headers["retry-after"]) >= 1
    # the one lookup that ran timed out after 2 s: refused, nothing charged for it
    refused = [a for a in attacked if a.status_code == 422]
    assert all(a.json()["code"] == "invalid_webhook_url" for a in refused), [a.text[:200] for a in refused]
    assert len(busy) + len(refused) == len(attacked)


async def test_a_failed_lookup_is_remembered_for_a_moment(
    api_asking: str, name_server: NameServer, make_user: MakeUser
) -> None:
    user = await make_user(1000)
    url = "https://gone.honest-receiver.test/hook"  # the name server says NXDOMAIN
    async with _http(api_asking) as http:
        await webhook_secret(http, user)
        first = await submit(http, user, small_png(), webhook_url=url)
        assert_problem(first, 422, "invalid_webhook_url")
        asked = name_server.queries("gone.")
        assert asked > 0
        again = await submit(http, user, small_png(), webhook_url=url)
        assert_problem(again, 422, "invalid_webhook_url")
        assert name_server.queries("gone.") == asked, "answered from memory, the name server not asked again"
        await asyncio.sleep(2.2)  # WEBHOOK_DNS_NEGATIVE_TTL_S
        later = await submit(http, user, small_png(), webhook_url=url)
        assert_problem(later, 422, "invalid_webhook_url")
        assert name_server.queries("gone.") > asked
