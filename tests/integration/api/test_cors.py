"""CORS: pages from the configured origins may call the API (preflight answered, answers readable);
any other origin, and every origin when none is configured (the default), gets no CORS grant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures_lumiku import LUMIKU_ORIGIN

API = "/api/background-remover"
EVIL = "https://evil.example"


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }


@pytest.mark.parametrize(
    ("path", "method"), [("/remove-single", "POST"), ("/jobs", "GET"), ("/subscription", "DELETE")]
)
async def test_a_preflight_from_the_allowed_origin_is_granted(lumiku_api: Any, path: str, method: str) -> None:
    r = await lumiku_api.options(API + path, headers=_preflight(LUMIKU_ORIGIN, method))
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == LUMIKU_ORIGIN
    assert method in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in r.headers  # bearer tokens, never cookies


async def test_a_preflight_from_another_origin_is_refused(lumiku_api: Any) -> None:
    r = await lumiku_api.options(API + "/remove-single", headers=_preflight(EVIL))
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers


async def test_answers_are_readable_by_the_allowed_origin_only(lumiku_api: Any, make_lumiku_user: Any) -> None:
    user = await make_lumiku_user(0)
    ok = await lumiku_api.get(API + "/stats", headers={**user.headers, "Origin": LUMIKU_ORIGIN})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == LUMIKU_ORIGIN
    exposed = ok.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "location" in exposed and "retry-after" in exposed
    other = await lumiku_api.get(API + "/stats", headers={**user.headers, "Origin": EVIL})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers


async def test_a_401_is_readable_by_the_allowed_origin(lumiku_api: Any) -> None:
    """The original frontend logs the user out on a 401: it must see the status, not a CORS failure."""
    r = await lumiku_api.get(API + "/stats", headers={"Origin": LUMIKU_ORIGIN})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == LUMIKU_ORIGIN


async def test_no_origin_is_allowed_by_default(client: Any) -> None:
    for origin in (LUMIKU_ORIGIN, EVIL):
        r = await client.options(API + "/jobs", headers=_preflight(origin, "GET"))
        assert "access-control-allow-origin" not in r.headers
        g = await client.get(API + "/pricing", headers={"Origin": origin})
        assert "access-control-allow-origin" not in g.headers
