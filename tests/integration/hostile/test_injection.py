"""SQL-ish and oversized strings in every parameter: a clean 4xx, nothing charged, every table intact."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.hostile import payloads
from tests.integration.hostile.helpers import (
    Client,
    MakeUser,
    assert_nothing_recorded,
    assert_problem,
    assert_still_serving,
    tables_exist,
)
from tests.support.api_client import API, balance, submit

HOSTILE = {
    "or 1=1": "' OR 1=1 --",
    "drop table": '"; DROP TABLE background_removal_job; --',
    "percent nul": "%00",
    "union": "basic' UNION SELECT user_id, balance FROM credit_ledger --",
    "long": "A" * 10_000,
}
# form field -> the problem code its garbage gets
FIELDS = {
    "tier": "unknown_tier",
    "format": "invalid_options",
    "channels": "invalid_options",
    "bg_color": "invalid_options",
    "crop": "invalid_options",
    "crop_margin": "invalid_options",
    "size": "invalid_options",
    "webhook_url": "invalid_webhook_url",
}


@pytest.mark.parametrize("value", list(HOSTILE))
@pytest.mark.parametrize("field", list(FIELDS))
async def test_hostile_form_fields_of_a_single_job(api: Client, make_user: MakeUser, field: str, value: str) -> None:
    user = await make_user(50)
    fields: dict[str, Any] = {"tier": "basic", field: HOSTILE[value]}
    tier = str(fields.pop("tier"))
    r = await submit(api, user, payloads.real_png(), tier=tier, filename="a.png", **fields)
    if value == "long":  # past MAX_FORM_FIELD_BYTES (8 KiB): refused while the form is parsed
        assert_problem(r, 413, "form_field_too_large")
    else:
        assert_problem(r, 422, FIELDS[field])
    await assert_nothing_recorded(api, user, 50)
    await tables_exist()


@pytest.mark.parametrize("field", list(FIELDS))
async def test_hostile_form_fields_of_a_batch(api: Client, make_user: MakeUser, field: str) -> None:
    user = await make_user(50)
    files = [("images[]", (f"{i}.png", payloads.real_png(64 + i, 48), "image/png")) for i in range(2)]
    data = {"tier": "basic", field: HOSTILE["drop table"]}
    r = await api.post(API + "/batches", files=files, data=data, headers=user.headers)
    assert_problem(r, 422, FIELDS[field])
    await assert_nothing_recorded(api, user, 50)
    await tables_exist()
    await assert_still_serving(api, user)


@pytest.mark.parametrize("value", list(HOSTILE))
async def test_hostile_idempotency_keys_are_opaque_data(api: Client, make_user: MakeUser, value: str) -> None:
    """A key is an opaque string: SQL-ish keys work as keys (stored as data, replayed); too long is 422."""
    user = await make_user(50)
    key = HOSTILE[value]
    first = await submit(api, user, payloads.real_png(), filename="a.png", headers={"Idempotency-Key": key})
    if len(key) > 255:
        assert_problem(first, 422, "invalid_options")
        await assert_nothing_recorded(api, user, 50)
    else:
        assert first.status_code == 202, first.text
        again = await submit(api, user, payloads.real_png(), filename="a.png", headers={"Idempotency-Key": key})
        assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        assert await balance(api, user) == 47
        other = await submit(api, user, payloads.real_jpeg(), filename="b.jpg", headers={"Idempotency-Key": key})
        assert_problem(other, 422, "idempotency_key_reused")
        assert await balance(api, user) == 47
    await tables_exist()


@pytest.mark.parametrize("route", ["/jobs", "/batches"])
@pytest.mark.parametrize("param", ["cursor", "limit"])
@pytest.mark.parametrize("value", [*HOSTILE, "negative", "huge", "float", "base64 of garbage", "naive timestamp"])
async def test_hostile_query_parameters(api: Client, make_user: MakeUser, route: str, param: str, value: str) -> None:
    user = await make_user(50)
    raw = {
        "negative": "-1",
        "huge": "9" * 40,
        "float": "1.5",
        "base64 of garbage": "Zm9vfGJhcg",  # "foo|bar"
        "naive timestamp": "MjAyNC0wMS0wMVQwMDowMDowMHwwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA",
    }.get(value, HOSTILE.get(value, ""))
    r = await api.get(f"{API}{route}?{param}={quote(raw, safe='')}", headers=user.headers)
    if r.status_code == 200:
        # a well-formed cursor of this API's shape simply finds nothing: that is fine
        assert param == "cursor" and value == "naive timestamp", r.text
        listing = r.json()
        assert listing.get("jobs", listing.get("batches")) == []
    else:
        assert_problem(r)
        assert r.status_code in (400, 422), r.text
    await tables_exist()
    await assert_still_serving(api, user)


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/1' or '1'='1",
        "/jobs/1%27%20or%20%271%27%3D%271",
        "/jobs/00000000-0000-0000-0000-000000000000'--/result",
        "/jobs/..%2f..%2fetc%2fpasswd",
        "/batches/..%2f..%2f",
        "/batches/b_x' OR '1'='1",
        "/batches/%00",
        "/batches/" + "A" * 5000,
        "/batches/%27%3B%20DROP%20TABLE%20background_removal_batch%3B%20--/download",
    ],
)
async def test_hostile_path_ids(api: Client, make_user: MakeUser, path: str) -> None:
    user = await make_user(50)
    for method in ("GET", "DELETE"):
        r = await api.request(method, API + path, headers=user.headers)
        assert_problem(r)
        assert r.status_code in (400, 404, 405), r.text
        if r.status_code == 404:
            assert r.json()["code"] == "not_found"
    await tables_exist()
    await assert_nothing_recorded(api, user, 50)
    await assert_still_serving(api, user)


@pytest.mark.parametrize("value", list(HOSTILE))
async def test_hostile_subscription_plans(api: Client, make_user: MakeUser, value: str) -> None:
    user = await make_user(50)
    r = await api.post(API + "/subscription", json={"plan": HOSTILE[value]}, headers=user.headers)
    assert_problem(r, 422, "invalid_options")
    sub = await api.get(API + "/subscription", headers=user.headers)
    assert sub.json() == {"subscription": None}
    await tables_exist()
