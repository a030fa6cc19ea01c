"""Both storage backends keep the same promises: what API and workers rely on, on a local directory and
on a real S3-compatible server (moto's, over HTTP)."""

from __future__ import annotations

import asyncio
import os
import zipfile
from pathlib import Path

import pytest

from core.settings import Settings
from core.storage import INLINE_PUT_MAX_BYTES, INLINE_PUT_SLICE_BYTES, LocalStorage, Storage, open_storage
from core.storage_s3 import S3Storage
from tests.support.loop_turns import other_tasks_turns

MIB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    s3_settings: Settings = request.getfixturevalue("s3_settings")
    store = open_storage(s3_settings)
    assert isinstance(store, S3Storage)
    return store


async def test_what_is_put_is_got_back_and_a_second_put_replaces_it(storage: Storage) -> None:
    await storage.put("outputs/a.png", b"first")
    assert await storage.get("outputs/a.png") == b"first"
    await storage.put("outputs/a.png", b"second, longer")
    assert await storage.get("outputs/a.png") == b"second, longer"
    assert await storage.size("outputs/a.png") == len(b"second, longer")
    assert await storage.exists("outputs/a.png")


async def test_a_missing_object_is_file_not_found_and_deleting_it_is_harmless(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.get("outputs/missing.png")
    with pytest.raises(FileNotFoundError):
        await storage.open("outputs/missing.png")
    assert await storage.size("outputs/missing.png") is None
    assert not await storage.exists("outputs/missing.png")
    await storage.delete("outputs/missing.png")


async def test_delete_removes_the_object(storage: Storage) -> None:
    await storage.put("inputs/x.jpg", b"upload")
    await storage.delete("inputs/x.jpg")
    assert not await storage.exists("inputs/x.jpg")
    with pytest.raises(FileNotFoundError):
        await storage.get("inputs/x.jpg")


async def test_a_large_object_is_streamed_in_chunks_with_its_size_known_first(storage: Storage) -> None:
    data = os.urandom(3 * MIB + 17)
    await storage.put("zips/big.zip", data)
    stored = await storage.open("zips/big.zip")
    assert stored.size == len(data)
    chunks = [chunk async for chunk in stored.chunks]
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 2 * MIB
    assert b"".join(chunks) == data
    assert b"".join(await asyncio.to_thread(lambda: list(storage.chunks_blocking("zips/big.zip")))) == data


async def test_keys_older_than_lists_only_old_objects_under_the_prefix(storage: Storage) -> None:
    await storage.put("zips/one.zip", b"1")
    await storage.put("zips/two.zip", b"2")
    await storage.put("outputs/three.png", b"3")
    await asyncio.sleep(1.1)
    assert sorted(await storage.keys_older_than("zips", 1.0)) == ["zips/one.zip", "zips/two.zip"]
    assert await storage.keys_older_than("zips", 3600) == []
    assert await storage.keys_older_than("nothing", 0) == []


async def test_a_zip_written_in_a_stream_appears_whole_and_readable(storage: Storage) -> None:
    # Larger than one multipart part on S3 (8 MiB), so it goes up in parts.
    entries = {f"{i:03d}.png": os.urandom(3 * MIB) for i in range(4)}
    for name, data in entries.items():
        await storage.put(f"outputs/{name}", data)

    def write() -> None:
        with storage.writer_blocking("zips/batch.zip") as out, zipfile.ZipFile(out, "w") as archive:
            for name in entries:
                with archive.open(zipfile.ZipInfo(name), "w", force_zip64=True) as dst:
                    for chunk in storage.chunks_blocking(f"outputs/{name}"):
                        dst.write(chunk)

    await asyncio.to_thread(write)
    local = Path(os.environ.get("TMPDIR", "/tmp")) / f"contract-{os.getpid()}-{id(storage)}.zip"
    try:
        local.write_bytes(await storage.get("zips/batch.zip"))
        with zipfile.ZipFile(local) as archive:
            assert {n: archive.read(n) for n in archive.namelist()} == entries
    finally:
        local.unlink(missing_ok=True)


async def test_a_writer_that_fails_leaves_no_object(storage: Storage) -> None:
    def write() -> None:
        with storage.writer_blocking("zips/half.zip") as out:
            out.write(os.urandom(10 * MIB))
            raise RuntimeError("the build failed half-way")

    with pytest.raises(RuntimeError):
        await asyncio.to_thread(write)
    assert not await storage.exists("zips/half.zip")


async def test_a_key_that_could_leave_the_store_is_refused(storage: Storage) -> None:
    for key in ("../etc/passwd", "/abs", "a/../b", "a//b", ""):
        with pytest.raises(ValueError):
            await storage.put(key, b"x")


async def test_a_local_upload_is_stored_while_other_requests_keep_being_served(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "storage")
    data = os.urandom(INLINE_PUT_MAX_BYTES)
    async with other_tasks_turns() as turns:
        await store.put("inputs/photo.jpg", data)
    # written on the event loop, it still let the loop run other work between its slices
    assert turns.count >= INLINE_PUT_MAX_BYTES // INLINE_PUT_SLICE_BYTES - 1
    assert await store.get("inputs/photo.jpg") == data


async def test_a_local_upload_cancelled_half_way_leaves_no_object_and_no_temporary_file(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "storage")
    put = asyncio.create_task(store.put("inputs/photo.jpg", os.urandom(INLINE_PUT_MAX_BYTES)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # a slice or two is on disk
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    assert not await store.exists("inputs/photo.jpg")
    assert [p for p in (tmp_path / "storage").rglob("*") if p.is_file()] == []
