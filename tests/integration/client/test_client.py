"""The Python client and the CLI against the real API (a uvicorn subprocess) and a real burst worker."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from bgremover_client import (
    AlreadySubscribed,
    AsyncClient,
    AuthenticationError,
    Batch,
    Client,
    InsufficientCredits,
    InvalidImage,
    InvalidOptions,
    NotFound,
    ResultNotReady,
    TransportError,
    WaitTimeout,
)
from bgremover_client.cli import EXIT_AUTH, EXIT_CREDITS, EXIT_FAILED_IMAGES, EXIT_INVALID, EXIT_OK, main
from PIL import Image

from core.settings import Settings
from db import credits
from tests.support.api_client import User
from tests.support.images import quokka_path, truncated_jpeg, variant


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("bgremover_demo", Path(__file__).parents[3] / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def token_of(user: User) -> str:
    return user.headers["Authorization"].removeprefix("Bearer ")


class Recorder:
    """httpx event hooks that remember what was sent and answered."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []

    def on_request(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def on_response(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)

    def hooks(self) -> dict[str, list[object]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    @property
    def conditional(self) -> int:
        return sum("if-none-match" in r.headers for r in self.requests)


def small_images(settings: Settings, folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo {i}.jpg"
        path.write_bytes(variant(settings, i, size=(320, 214)))
        paths.append(path)
    return paths


@pytest.mark.models
async def test_single_job_submit_wait_download(base_url, make_user, run_worker, settings, tmp_path) -> None:
    user = await make_user(100)
    recorder = Recorder()
    with Client(base_url, token_of(user), event_hooks=recorder.hooks()) as bg:  # type: ignore[arg-type]
        assert bg.pricing().tier("basic") is not None
        job = bg.submit(quokka_path(settings), tier="basic", format="png", size=480)
        assert job.status == "pending"
        assert job.credits_charged == 3
        assert job.output_options["size"] == "480"
        assert bg.balance().balance == 97
        with pytest.raises(ResultNotReady) as not_ready:
            bg.download_result(job, tmp_path)
        assert not_ready.value.job_status == "pending"

        await run_worker()

        done = bg.wait(job, timeout=30)
        assert done.status == "completed"
        assert done.etag
        written = bg.download_result(done, tmp_path)
        assert written.parent == tmp_path
        assert written.name == "quokka.png"
        with Image.open(written) as png:
            assert png.mode == "RGBA"
            assert max(png.size) == 480

        # A second wait on the same (final) job is answered 304 and returns the known state.
        again = bg.wait(done, timeout=30)
        assert again == done
        assert recorder.conditional == 1
        assert recorder.statuses[-1] == 304

        assert [j.id for j in bg.jobs()] == [job.id]
        assert bg.stats().total_single_removals == 1


@pytest.mark.models
async def test_waiting_on_a_pending_job_long_polls_with_etags(base_url, make_user, queue, settings) -> None:
    user = await make_user(100)
    recorder = Recorder()
    # a 7 s client timeout allows long polls of 2 s (5 s below it), so a 5 s wait makes a few of them
    with Client(base_url, token_of(user), timeout=7.0, event_hooks=recorder.hooks()) as bg:  # type: ignore[arg-type]
        job = bg.submit(quokka_path(settings))
        with pytest.raises(WaitTimeout) as timeout:
            bg.wait(job, timeout=5.0)
    polls = [r for r in recorder.requests if r.method == "GET"]
    # each request is held by the server for its `wait`: a few requests, not one per second or a busy loop
    assert 2 <= len(polls) <= 4
    assert polls[0].url.params["wait"] == "2.0"
    assert recorder.conditional == len(polls) - 1
    assert recorder.statuses.count(304) == len(polls) - 1
    last = timeout.value.last
    assert getattr(last, "status", None) == "pending"


@pytest.mark.models
async def test_async_batch_with_progress_and_zip(base_url, make_user, run_worker, settings, tmp_path) -> None:
    user = await make_user(100)
    images = small_images(settings, tmp_path / "in", 3)
    seen: list[Batch] = []
    async with AsyncClient(base_url, token_of(user)) as bg:
        batch = await bg.submit_batch(tmp_path / "in", tier="basic", format="webp")
        assert batch.total_images == 3
        assert batch.credits_charged == 9
        waiting = asyncio.create_task(bg.wait(batch, timeout=120, on_progress=seen.append))
        await asyncio.sleep(0.3)
        await run_worker()
        done = await asyncio.wait_for(waiting, 60)
        assert done.status == "completed"
        assert done.succeeded_images == 3
        assert [i.filename for i in done.images or ()] == [p.name for p in images]
        assert seen[0].processed_images <= seen[-1].processed_images == 3
        assert [b.processed_images for b in seen] == sorted(b.processed_images for b in seen)
        archive = await bg.download_zip(done, tmp_path / "out" / "batch.zip")
        names = zipfile.ZipFile(archive).namelist()
        assert names == ["001_photo_0.webp", "002_photo_1.webp", "003_photo_2.webp"]
        listed = [b async for b in bg.batches()]
        assert [b.id for b in listed] == [batch.id]
        assert (await bg.batch(batch.batch_id)).status == "completed"


async def test_typed_errors(base_url, make_user, settings) -> None:
    rich = await make_user(100)
    poor = await make_user(0)
    jpeg = variant(settings, 1)

    with Client(base_url, "not-a-token") as bg, pytest.raises(AuthenticationError) as auth:
        bg.balance()
    assert (auth.value.status, auth.value.code) == (401, "unauthorized")
    assert auth.value.request_id
    assert auth.value.problem["instance"].endswith("/credits/balance")

    with Client(base_url, token_of(rich)) as bg:
        with pytest.raises(NotFound) as missing:
            bg.job(str(uuid.uuid4()))
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(InvalidImage) as bad_type:
            bg.submit(("notes.txt", b"just some text"))
        assert (bad_type.value.status, bad_type.value.code) == (415, "unsupported_media_type")
        with pytest.raises(InvalidOptions) as bad_option:
            bg.submit(("a.jpg", jpeg), format="gif")
        assert (bad_option.value.status, bad_option.value.code) == (422, "invalid_options")
        with pytest.raises(InvalidOptions) as bad_tier:
            bg.submit(("a.jpg", jpeg), tier="platinum")
        assert bad_tier.value.code == "unknown_tier"
        with pytest.raises(InvalidOptions) as too_small:
            bg.submit_batch([("a.jpg", jpeg)])
        assert too_small.value.code == "batch_too_small"
        with pytest.raises(InvalidImage) as batch_problem:
            bg.submit_batch([("a.jpg", jpeg), ("notes.txt", b"text"), ("b.jpg", variant(settings, 2))])
        assert [(e["index"], e["code"]) for e in batch_problem.value.errors] == [(1, "unsupported_media_type")]
        assert bg.balance().balance == 100

    async with AsyncClient(base_url, token_of(poor)) as abg:
        with pytest.raises(InsufficientCredits) as broke:
            await abg.submit(("a.jpg", jpeg))
        assert (broke.value.status, broke.value.code) == (402, "insufficient_credits")
        assert (broke.value.required, broke.value.balance) == (3, 0)

    with Client("http://127.0.0.1:9", "x", timeout=2) as nowhere, pytest.raises(TransportError):
        nowhere.pricing()


async def test_subscribing_and_renewing_from_the_async_client(base_url, make_user) -> None:
    user = await make_user(3 * 990)
    async with AsyncClient(base_url, token_of(user)) as abg:
        starter = next(p for p in (await abg.pricing()).plans if p.plan == "starter")
        assert (starter.price, starter.credits) == (99000, 990)
        first = await abg.subscribe("starter", idempotency_key="sub-1")
        assert await abg.subscribe("starter", idempotency_key="sub-1") == first
        renewed = await abg.renew_subscription(idempotency_key="renew-1")
        assert first.expires_at is not None
        assert renewed.expires_at == first.expires_at + dt.timedelta(days=30)
        assert (await abg.balance()).balance == 990
        with pytest.raises(AlreadySubscribed):
            await abg.subscribe("pro")


async def _wait_for_submission(base_url: str, token: str, *, batches: bool) -> None:
    async with AsyncClient(base_url, token) as bg:
        for _ in range(300):
            page = await (bg.batches_page() if batches else bg.jobs_page())
            if page.items:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the CLI never submitted anything")


@pytest.mark.models
async def test_cli_removes_a_folder_as_a_batch(base_url, make_user, run_worker, settings, tmp_path, capsys) -> None:
    user = await make_user(100)
    small_images(settings, tmp_path / "in", 2)
    (tmp_path / "in" / "broken.jpg").write_bytes(truncated_jpeg(settings))
    (tmp_path / "in" / "readme.txt").write_text("not an image, not picked up")
    out = tmp_path / "out"
    argv = ["--url", base_url, "--token", token_of(user), "remove", str(tmp_path / "in"), "--out", str(out)]
    cli = asyncio.create_task(asyncio.to_thread(main, argv))
    await _wait_for_submission(base_url, token_of(user), batches=True)
    await run_worker()
    code = await asyncio.wait_for(cli, 60)
    assert code == EXIT_FAILED_IMAGES
    assert sorted(p.name for p in out.iterdir()) == ["002_photo_0.png", "003_photo_1.png"]
    err = capsys.readouterr().err
    assert "broken.jpg: corrupt_image" in err
    assert "2 of 3 images written" in err


@pytest.mark.models
async def test_cli_single_image(base_url, make_user, run_worker, settings, tmp_path, capsys) -> None:
    user = await make_user(100)
    out = tmp_path / "out"
    argv = ["--url", base_url, "--token", token_of(user), "remove", str(quokka_path(settings))]
    argv += ["--out", str(out), "--format", "jpg", "--bg-color", "#00ff00"]
    cli = asyncio.create_task(asyncio.to_thread(main, argv))
    await _wait_for_submission(base_url, token_of(user), batches=False)
    await run_worker()
    assert await asyncio.wait_for(cli, 60) == EXIT_OK
    written = out / "quokka.jpg"
    assert capsys.readouterr().out.strip() == str(written)
    with Image.open(io.BytesIO(written.read_bytes())) as jpg:
        assert jpg.format == "JPEG"


async def test_cli_errors_and_account_commands(base_url, make_user, settings, tmp_path, capsys) -> None:
    poor = await make_user(2)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(variant(settings, 3))
    common = ["--url", base_url, "--token", token_of(poor)]

    assert main([*common, "remove", str(photo), "--out", str(tmp_path / "out")]) == EXIT_CREDITS
    err = capsys.readouterr().err
    assert "needs 3 credits but the balance is 2" in err
    assert len(err.strip().splitlines()) == 1

    assert main(["--url", base_url, "--token", "bad", "balance"]) == EXIT_AUTH
    assert "BGREMOVER_TOKEN" in capsys.readouterr().err
    assert main([*common, "remove", str(tmp_path / "missing.jpg")]) == EXIT_INVALID
    # a caller who cannot pay for one image is refused before the body (and its tier) is read:
    # an unknown tier is judged for a caller who could pay
    payer = ["--url", base_url, "--token", token_of(await make_user(10))]
    assert main([*payer, "remove", str(photo), "--tier", "platinum", "--out", str(tmp_path / "o")]) == EXIT_INVALID
    capsys.readouterr()

    assert main([*common, "balance"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "2 credits"
    assert main([*common, "--json", "balance"]) == EXIT_OK
    assert '"balance": 2' in capsys.readouterr().out
    assert main([*common, "pricing"]) == EXIT_OK
    assert "basic" in capsys.readouterr().out
    assert main([*common, "jobs"]) == EXIT_OK
    assert "No jobs yet." in capsys.readouterr().out
    assert main([*common, "subscription"]) == EXIT_OK
    assert "No subscription" in capsys.readouterr().out
    assert main([*common, "subscription", "--subscribe", "starter"]) == EXIT_CREDITS
    assert "needs 990 credits but the balance is 2" in capsys.readouterr().err
    assert main([*common, "subscription"]) == EXIT_OK
    assert "No subscription" in capsys.readouterr().out
    await credits.grant(poor.id, 990, reason="test", entry_key=f"test-top-up:{poor.id}")
    assert main([*common, "subscription", "--subscribe", "starter"]) == EXIT_OK
    assert "starter (active" in capsys.readouterr().out
    assert main([*common, "balance"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "2 credits"
    assert main([*common, "subscription", "--renew"]) == EXIT_CREDITS
    assert "needs 990 credits but the balance is 2" in capsys.readouterr().err
    await credits.grant(poor.id, 990, reason="test", entry_key=f"test-top-up-2:{poor.id}")
    for _ in range(2):  # a retried renewal with the same key is charged once
        assert main([*common, "subscription", "--renew", "--idempotency-key", "renew-1"]) == EXIT_OK
        assert "starter (active" in capsys.readouterr().out
    assert main([*common, "balance"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "2 credits"
    assert main([*common, "subscription", "--subscribe", "pro"]) == EXIT_INVALID
    assert "Already subscribed" in capsys.readouterr().err
    assert main([*common, "subscription", "--cancel"]) == EXIT_OK
    capsys.readouterr()
    assert main([*common, "stats"]) == EXIT_OK
    assert "single removals: 0" in capsys.readouterr().out


@pytest.mark.models
async def test_demo_script(base_url, make_user, running_worker, settings, tmp_path, monkeypatch, capsys) -> None:
    user = await make_user(100)
    monkeypatch.setenv("BGREMOVER_TOKEN", token_of(user))
    monkeypatch.setattr(demo, "make_samples", lambda folder: small_images(settings, folder, 3))
    out = tmp_path / "demo-output"
    code = await asyncio.to_thread(demo.main, ["--url", base_url, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == EXIT_OK, printed
    assert "Balance of" in printed and "100 credits" in printed
    assert "Price: 9 credits for 3 basic image(s)" in printed
    assert sorted(p.name for p in out.glob("*.png")) == ["001_photo_0.png", "002_photo_1.png", "003_photo_2.png"]
    assert len(list(out.glob("b_*.zip"))) == 1


async def test_demo_script_asks_for_credits(base_url, make_user, running_worker, tmp_path, monkeypatch, capsys) -> None:
    user = await make_user(1)
    monkeypatch.setenv("BGREMOVER_TOKEN", token_of(user))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"\xff\xd8 not decoded by the demo")
    (folder / "b.jpg").write_bytes(b"\xff\xd8 not decoded by the demo")
    code = await asyncio.to_thread(demo.main, [str(folder), "--url", base_url, "--out", str(tmp_path / "o")])
    assert code == EXIT_CREDITS
    assert f"make grant USER={user.id} CREDITS=500" in capsys.readouterr().out


@pytest.mark.models
async def test_client_and_cli_send_an_image_url_with_a_background_file_and_a_layout(
    base_url, make_user, run_worker, settings, tmp_path, capsys, image_server
) -> None:
    user = await make_user(100)
    url = image_server.image("/shop/quokka.jpg", quokka_path(settings).read_bytes())
    backdrop = tmp_path / "studio.png"
    Image.new("RGB", (300, 200), (250, 250, 250)).save(backdrop)
    with Client(base_url, token_of(user)) as bg:
        job = bg.submit(image_url=url, background=backdrop, scale=50, position="center", shadow=True)
        assert job.output_options["scale"] == "50%" and job.output_options["add_shadow"] == "true"
        await run_worker()
        done = bg.wait(job, timeout=30)
        assert done.status == "completed", done.error_message
        with Image.open(bg.download_result(done, tmp_path)) as result:
            assert result.mode == "RGB" and result.size == (960, 643)  # opaque: on the background image
            assert result.getpixel((3, 3)) == (250, 250, 250)

    out = tmp_path / "out"
    argv = ["--url", base_url, "--token", token_of(user), "remove", url, "--out", str(out)]
    argv += ["--format", "zip", "--roi", "0% 0% 60% 100%", "--hard-edges", "--type", "animal"]
    cli = asyncio.create_task(asyncio.to_thread(main, argv))
    await _wait_for_submission(base_url, token_of(user), batches=False)
    await run_worker()
    assert await asyncio.wait_for(cli, 60) == EXIT_OK
    written = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert written.suffix == ".zip"
    with zipfile.ZipFile(written) as archive:
        alpha = Image.open(io.BytesIO(archive.read("alpha.png")))
    assert set(alpha.getextrema()) == {0, 255} and alpha.crop((580, 0, 960, 643)).getextrema() == (0, 0)
