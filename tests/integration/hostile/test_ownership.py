"""Another user's ids, everywhere: always 404 ``not_found`` (never 403), never the data, never a side effect."""

from __future__ import annotations

import pytest

from tests.integration.hostile import payloads
from tests.integration.hostile.helpers import Client, MakeUser, assert_problem, assert_still_serving
from tests.support.api_client import API, User, balance


async def _owned(api: Client, owner: User) -> tuple[dict[str, str], dict[str, str]]:
    job = await api.post(
        API + "/jobs",
        files={"image": ("secret-owner-photo.png", payloads.real_png(), "image/png")},
        data={"tier": "basic"},
        headers=owner.headers,
    )
    assert job.status_code == 202, job.text
    files = [("images[]", (f"secret-{i}.png", payloads.real_png(64 + i, 48), "image/png")) for i in range(2)]
    batch = await api.post(API + "/batches", files=files, data={"tier": "basic"}, headers=owner.headers)
    assert batch.status_code == 202, batch.text
    return job.json(), batch.json()


@pytest.mark.parametrize("id_form", ["as given", "upper case"])
async def test_another_users_ids_are_not_found_on_every_route(api: Client, make_user: MakeUser, id_form: str) -> None:
    owner = await make_user(100)
    intruder = await make_user(100)
    job, batch = await _owned(api, owner)
    detail = (await api.get(f"{API}/batches/{batch['id']}", headers=owner.headers)).json()
    image_job = detail["images"][0]["jobId"]
    owner_balance = await balance(api, owner)

    def form(value: str) -> str:
        return value.upper() if id_form == "upper case" and not value.startswith("b_") else value

    requests = [
        ("GET", f"/jobs/{form(job['id'])}"),
        ("GET", f"/jobs/{form(job['id'])}/result"),
        ("DELETE", f"/jobs/{form(job['id'])}"),
        ("GET", f"/jobs/{form(image_job)}"),
        ("GET", f"/jobs/{form(image_job)}/result"),
        ("DELETE", f"/jobs/{form(image_job)}"),
        ("GET", f"/batches/{form(batch['id'])}"),
        ("GET", f"/batches/{form(batch['id'])}/download"),
        ("GET", f"/batches/{batch['batchId']}"),
        ("GET", f"/batches/{batch['batchId']}/download"),
    ]
    for method, path in requests:
        r = await api.request(method, API + path, headers=intruder.headers)
        body = assert_problem(r, 404, "not_found")
        assert "secret" not in r.text, (method, path, body)
        assert "jobStatus" not in body, "the problem reveals the state of another user's job"

    # nothing happened to the owner's work
    assert await balance(api, owner) == owner_balance
    mine = await api.get(f"{API}/jobs/{job['id']}", headers=owner.headers)
    assert mine.status_code == 200 and mine.json()["status"] == "pending"
    assert (await api.get(f"{API}/batches/{batch['batchId']}", headers=owner.headers)).status_code == 200
    # and the intruder's listings stay empty
    assert (await api.get(API + "/jobs", headers=intruder.headers)).json()["jobs"] == []
    assert (await api.get(API + "/batches", headers=intruder.headers)).json()["batches"] == []
    assert await balance(api, intruder) == 100
    await assert_still_serving(api, intruder)


async def test_a_cursor_cannot_page_into_another_users_jobs(api: Client, make_user: MakeUser) -> None:
    owner = await make_user(100)
    intruder = await make_user(100)
    for i in range(3):
        r = await api.post(
            API + "/jobs",
            files={"image": (f"secret-{i}.png", payloads.real_png(64 + i, 48), "image/png")},
            data={"tier": "basic"},
            headers=owner.headers,
        )
        assert r.status_code == 202
    page = (await api.get(API + "/jobs?limit=1", headers=owner.headers)).json()
    assert page["nextCursor"]
    stolen = await api.get(f"{API}/jobs?limit=100&cursor={page['nextCursor']}", headers=intruder.headers)
    assert stolen.status_code == 200 and stolen.json()["jobs"] == []
