"""wait(): Retry-After, If-None-Match/304 and the timeout, against a scripted transport (sync and async)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from bgremover_client import AsyncClient, Client, Job, NotFound, WaitTimeout
from bgremover_client._core import Poller

PREFIX = "/api/background-remover"


def job_body(status: str) -> dict[str, object]:
    return {"id": "j1", "status": status, "tier": "basic", "links": {"self": f"{PREFIX}/jobs/j1", "result": None}}


class Script:
    """Answers GET /jobs/j1 from a list of statuses; an unchanged status with a matching ETag is a 304."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path.endswith("/result"):
            return httpx.Response(200, content=b"PNG", headers={"content-disposition": 'inline; filename="../a b.png"'})
        if request.url.path != f"{PREFIX}/jobs/j1":
            return httpx.Response(404, json={"code": "not_found", "detail": "no", "status": 404})
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        etag = f'"{status}"'
        headers = {"ETag": etag, **({"Retry-After": "0"} if status in ("pending", "processing") else {})}
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers=headers)
        return httpx.Response(200, content=json.dumps(job_body(status)), headers=headers)


def test_sync_wait_sends_if_none_match_and_treats_304_as_unchanged(tmp_path: Path) -> None:
    script = Script(["pending", "pending", "processing", "completed"])
    progress: list[str] = []
    with Client("http://api", "tok", transport=httpx.MockTransport(script)) as bg:
        job = bg.wait(Job.from_api(job_body("pending")), on_progress=lambda j: progress.append(j.status))
        assert job.status == "completed"
        assert progress == ["pending", "processing", "completed"]
        assert [r.headers.get("if-none-match") for r in script.seen] == [None, '"pending"', '"pending"', '"processing"']
        assert script.seen[0].headers["authorization"] == "Bearer tok"
        written = bg.download_result(job, str(tmp_path) + "/")
        assert written == tmp_path / "a b.png"
        assert written.read_bytes() == b"PNG"
        assert not list(tmp_path.glob("*.part"))
        with pytest.raises(NotFound):
            bg.job("other")


async def test_async_wait_gives_up_after_the_timeout() -> None:
    script = Script(["pending"])
    async with AsyncClient("http://api", "tok", transport=httpx.MockTransport(script)) as bg:
        with pytest.raises(WaitTimeout) as timeout:
            await bg.wait(Job.from_api(job_body("pending")), timeout=0.05, interval=0.01)
    assert isinstance(timeout.value.last, Job)
    assert timeout.value.last.status == "pending"
    assert len(script.seen) >= 2
    assert all(r.headers.get("if-none-match") == '"pending"' for r in script.seen[1:])


def test_poller_honours_retry_after_and_clamps_to_the_deadline() -> None:
    now = [0.0]
    poller = Poller(Job.from_api(job_body("pending")), timeout=5.0, interval=1.0, clock=lambda: now[0])
    request = httpx.Request("GET", "http://api/x")

    def respond(headers: dict[str, str], status: int = 200) -> float | None:
        body = None if status == 304 else json.dumps(job_body("pending"))
        return poller.feed(httpx.Response(status, content=body, headers=headers, request=request))

    assert respond({"Retry-After": "2", "ETag": '"a"'}) == 2.0
    assert poller.call().headers == {"If-None-Match": '"a"'}
    assert respond({}, 304) == 1.0  # no Retry-After: the interval
    assert respond({"Retry-After": "60"}, 304) == 5.0  # capped at max_interval, then at the time left
    now[0] = 4.5
    assert respond({"Retry-After": "2"}, 304) == pytest.approx(0.5)
    now[0] = 5.0
    with pytest.raises(WaitTimeout):
        respond({"Retry-After": "2"}, 304)
    assert (poller.requests, poller.not_modified) == (5, 4)


def test_wait_long_polls_within_the_deadline_and_the_clients_own_timeout() -> None:
    now = [0.0]
    poller = Poller(Job.from_api(job_body("pending")), timeout=10.0, clock=lambda: now[0])
    assert poller.call().params == {"wait": "10.0"}  # never longer than the caller is prepared to wait
    now[0] = 9.95
    assert poller.call().params is None  # too little left for a long poll: a plain request
    script = Script(["pending", "completed"])
    with Client("http://api", "tok", timeout=12.0, transport=httpx.MockTransport(script)) as bg:
        assert bg.wait_for(Job.from_api(job_body("pending"))).status == "completed"
    # a long poll shorter than the client's read timeout, or the client would give up first
    assert [r.url.params.get("wait") for r in script.seen] == ["7.0", "7.0"]
