"""Signed result and ZIP links: they work with no header at all (as `<img src>` and `<a href download>`
send), and only for the one object they were issued for, until they expire."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from core.settings import Settings
from core.signed_urls import UrlSigner, batch_zip_path, job_result_path
from tests.support.api_client import API, User, submit
from tests.support.images import variant

SMALL = (320, 214)


async def _completed_job(api: Any, user: User, run_worker: Any, settings: Settings, index: int) -> dict[str, Any]:
    r = await submit(api, user, variant(settings, index, size=SMALL))
    assert r.status_code == 202, r.text
    assert r.json()["links"]["download"] is None
    await run_worker()
    job: dict[str, Any] = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert job["status"] == "completed", job
    return job


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.models
async def test_a_completed_jobs_download_link_needs_no_token(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    job = await _completed_job(api, user, run_worker, settings, 0)
    link = job["links"]["download"]
    assert urlsplit(link).path == job_result_path(job["id"])

    r = await api.get(link)  # no Authorization header at all
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["cache-control"].startswith("private, max-age=")
    assert Image.open(io.BytesIO(r.content)).mode == "RGBA"
    # a browser must never sniff a user's pixels into HTML or script on the API's origin
    assert r.headers["x-content-type-options"] == "nosniff"
    with_token = await api.get(job["links"]["result"], headers=user.headers)
    assert with_token.content == r.content
    assert with_token.headers["x-content-type-options"] == "nosniff"

    # the same link in the list, and the same one again on the next poll (stable ETag)
    listed = (await api.get(API + "/jobs", headers=user.headers)).json()["jobs"][0]
    assert listed["links"]["download"] == link
    again = await api.get(job["links"]["self"], headers=user.headers)
    assert again.json()["links"]["download"] == link


@pytest.mark.models
async def test_an_altered_link_is_403_and_opens_nothing(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    job = await _completed_job(api, user, run_worker, settings, 1)
    link: str = job["links"]["download"]
    q = _query(link)
    path = urlsplit(link).path
    flipped = ("A" if q["signature"][0] != "A" else "B") + q["signature"][1:]
    altered = [
        f"{path}?expires={q['expires']}&signature={flipped}",
        f"{path}?expires={int(q['expires']) + 3600}&signature={q['signature']}",
        f"{path}?expires={q['expires']}",
        path,
        f"{path}?expires={q['expires']}&signature=",
    ]
    for url in altered:
        r = await api.get(url)
        assert r.status_code == 403, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "invalid_signature"
        assert not r.content.startswith(b"\x89PNG")


@pytest.mark.models
async def test_a_link_cannot_open_another_users_result(api, make_user, run_worker, settings: Settings) -> None:
    alice = await make_user(100)
    bob = await make_user(100)
    alices = await _completed_job(api, alice, run_worker, settings, 2)
    bobs = await _completed_job(api, bob, run_worker, settings, 3)
    q = _query(alices["links"]["download"])
    # alice's valid signature on bob's job id
    r = await api.get(f"{job_result_path(bobs['id'])}?expires={q['expires']}&signature={q['signature']}")
    assert r.status_code == 403
    assert r.json()["code"] == "invalid_signature"
    # and on the ZIP path of an id that is not hers
    r = await api.get(f"{batch_zip_path(bobs['id'])}?expires={q['expires']}&signature={q['signature']}")
    assert r.status_code == 403
    # bob's own link still opens bob's result only
    own = await api.get(bobs["links"]["download"])
    assert own.status_code == 200
    assert own.content == (await api.get(bobs["links"]["result"], headers=bob.headers)).content


@pytest.mark.models
async def test_an_expired_link_is_410(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    job = await _completed_job(api, user, run_worker, settings, 4)
    signer = UrlSigner.from_settings(settings)
    issued_long_ago = signer.sign(job_result_path(job["id"]), now=1_000_000_000.0)
    r = await api.get(issued_long_ago)
    assert r.status_code == 410
    assert r.json()["code"] == "link_expired"
    # a link signed with another key is a forgery, not an expired link
    other = UrlSigner(b"another-key-another-key-another-key", ttl_s=900)
    assert (await api.get(other.sign(job_result_path(job["id"])))).status_code == 403


@pytest.mark.models
async def test_a_batch_zip_link_needs_no_token(api, make_user, run_worker, settings: Settings) -> None:
    user = await make_user(100)
    files = [("images[]", (f"p{i}.jpg", variant(settings, 10 + i, size=SMALL), "image/jpeg")) for i in range(2)]
    r = await api.post(API + "/batches", files=files, data={"tier": "basic"}, headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.json()["links"]["download"] is None
    await run_worker()
    batch = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert batch["status"] == "completed"
    assert batch["links"]["result"] == f"{API}/batches/{batch['id']}/download"
    link = batch["links"]["download"]
    assert urlsplit(link).path == batch_zip_path(batch["id"])
    z = await api.get(link)
    assert z.status_code == 200
    assert z.headers["content-type"] == "application/zip"
    assert f"{batch['batchId']}.zip" in z.headers["content-disposition"]
    assert len(zipfile.ZipFile(io.BytesIO(z.content)).namelist()) == 2
    # the signed job link cannot be moved onto the batch, nor the batch's onto a job
    q = _query(link)
    moved = await api.get(f"{job_result_path(batch['id'])}?expires={q['expires']}&signature={q['signature']}")
    assert moved.status_code == 403
