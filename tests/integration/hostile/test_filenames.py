"""Hostile file names: path traversal, control and bidi characters, very long and non-ASCII names.

A name is only ever displayed (``originalFilename``) or turned into a download name; neither may
carry a path, a control character or a bidi override, and download names are plain ASCII.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile

import httpx
import pytest

from core.settings import Settings
from tests.integration.hostile.helpers import (
    Client,
    MakeUser,
    RunWorker,
    assert_problem,
    assert_still_serving,
    multipart,
)
from tests.support.api_client import API, User, balance
from tests.support.images import variant

NAMES: dict[str, bytes] = {
    "posix traversal": b"../../etc/passwd",
    "windows traversal": b"..\\..\\win.ini",
    "absolute path": b"/abs/path.jpg",
    "windows drive": b"C:\\Windows\\System32\\evil.jpg",
    "nul byte": b"evil\x00.php.jpg",
    "rtl override": "invoice\u202egnp.exe".encode(),
    "300 characters": b"a" * 300 + b".jpg",
    "300 emoji": ("\U0001f600" * 300 + ".jpg").encode(),
    "emoji": "\U0001f600\U0001f389 party.jpg".encode(),
    "dot dot": b"..",
    "traversal ending in dot dot": b"../..",
    "hidden": b".htaccess",
    "html": b"<img src=x onerror=alert(1)>.jpg",
    "quotes and semicolons": b"a%22; filename=evil.sh; x=.jpg",
    "control characters": b"bell\x07tab\tescape\x1b.jpg",
    "invalid utf-8": b"\xff\xfe\xfd.jpg",
    "empty": b"",
}
# Names the multipart layer itself refuses (400) or turns into a text field: not usable in a batch.
_UNUSABLE = {"invalid utf-8", "empty"}
USABLE_NAMES = {case: raw for case, raw in NAMES.items() if case not in _UNUSABLE}
# The worker runs the model once per image: the single jobs take the most hostile names only.
_SINGLE_CASES = ("posix traversal", "windows traversal", "nul byte", "rtl override", "dot dot", "quotes and semicolons")
_SAFE_DOWNLOAD = re.compile(r'^inline; filename="[A-Za-z0-9][A-Za-z0-9._-]*\.(png|webp|jpg)"$')


def assert_safe_display_name(name: str) -> None:
    assert isinstance(name, str)
    assert len(name) <= 255
    assert "/" not in name and "\\" not in name, name
    assert name not in (".", ".."), f"{name!r} is a path component"
    bad = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert not bad, f"control or bidi characters {bad!r} in {name!r}"


def assert_safe_entry_name(name: str) -> None:
    assert name.isascii(), name
    assert "/" not in name and "\\" not in name and ".." not in name, name
    assert not name.startswith(".") and not name.startswith("-"), name
    assert re.fullmatch(r"\d{3}_[A-Za-z0-9._-]+\.(png|webp|jpg)", name), name


async def _submit_named(api: Client, user: User, raw_name: bytes, image: bytes) -> httpx.Response:
    body, headers = multipart([("tier", None, b"basic", None), ("image", raw_name, image, "image/jpeg")])
    return await api.post(API + "/jobs", content=body, headers={**user.headers, **headers})


@pytest.mark.parametrize("case", list(NAMES))
async def test_a_hostile_name_on_a_single_job_is_kept_safe(
    api: Client, make_user: MakeUser, settings: Settings, case: str
) -> None:
    user = await make_user(50)
    r = await _submit_named(api, user, NAMES[case], variant(settings, 1, size=(64, 48)))
    if r.status_code != 202:  # refusing a name outright is acceptable, as a clean problem
        assert_problem(r)
        return
    job = r.json()
    assert_safe_display_name(job["originalFilename"])
    stored = (await api.get(f"{API}/jobs/{job['id']}", headers=user.headers)).json()
    assert stored["originalFilename"] == job["originalFilename"]
    assert await balance(api, user) == 47
    await assert_still_serving(api, user)


async def test_hostile_names_in_a_batch_are_kept_safe(api: Client, make_user: MakeUser, settings: Settings) -> None:
    user = await make_user(500)
    parts: list[tuple[str, bytes | None, bytes, str | None]] = [("tier", None, b"basic", None)]
    parts += [
        ("images[]", raw, variant(settings, i, size=(64, 48)), "image/jpeg")
        for i, raw in enumerate(USABLE_NAMES.values())
    ]
    body, headers = multipart(parts)
    r = await api.post(API + "/batches", content=body, headers={**user.headers, **headers})
    assert r.status_code == 202, r.text
    batch = (await api.get(r.headers["location"], headers=user.headers)).json()
    assert len(batch["images"]) == len(USABLE_NAMES)
    for image in batch["images"]:
        assert_safe_display_name(image["filename"])


@pytest.mark.models
async def test_download_names_of_hostile_uploads_are_plain_ascii(
    api: Client, make_user: MakeUser, run_worker: RunWorker, settings: Settings
) -> None:
    """After processing: the result's Content-Disposition and every ZIP entry name are safe."""
    user = await make_user(500)
    photo = variant(settings, 2, size=(160, 107))
    singles = {case: (await _submit_named(api, user, NAMES[case], photo)) for case in _SINGLE_CASES}
    job_ids = {}
    for case, r in singles.items():
        assert r.status_code == 202, (case, r.text)
        job_ids[case] = r.json()["id"]
    parts: list[tuple[str, bytes | None, bytes, str | None]] = [("tier", None, b"basic", None)]
    parts += [
        ("images[]", raw, variant(settings, i, size=(160, 107)), "image/jpeg")
        for i, raw in enumerate(USABLE_NAMES.values())
    ]
    body, headers = multipart(parts)
    rb = await api.post(API + "/batches", content=body, headers={**user.headers, **headers})
    assert rb.status_code == 202, rb.text
    await run_worker()

    for case, job_id in job_ids.items():
        result = await api.get(f"{API}/jobs/{job_id}/result", headers=user.headers)
        assert result.status_code == 200, (case, result.text)
        disposition = result.headers["content-disposition"]
        assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
        assert _SAFE_DOWNLOAD.fullmatch(disposition), (case, disposition)
        assert ".." not in disposition, (case, disposition)

    done = (await api.get(rb.headers["location"], headers=user.headers)).json()
    assert done["status"] == "completed", done
    download = await api.get(done["links"]["download"], headers=user.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert len(names) == len(USABLE_NAMES) == len(set(names))
    for name in names:
        assert_safe_entry_name(name)

    # finished results of one user stay invisible to another: 404 not_found, never the bytes
    other = await make_user(10)
    some_job = next(iter(job_ids.values()))
    for url in (
        f"{API}/jobs/{some_job}/result",
        f"{API}/batches/{done['id']}/download",
        f"{API}/batches/{done['batchId']}/download",
    ):
        refused = await api.get(url, headers=other.headers)
        assert_problem(refused, 404, "not_found")
        assert not refused.content.startswith((b"\x89PNG", b"PK"))
