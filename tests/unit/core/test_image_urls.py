"""The image URL fetcher against real loopback servers: what it fetches, what it refuses without a
connection, and how redirects, huge or endless bodies and stalls end."""

from __future__ import annotations

import time

import pytest

from core.errors import ImageUrlRefused, ImageUrlTooLarge, ImageUrlUnreachable
from core.image_urls import AllowList, ImageUrlFetcher
from core.settings import Settings
from tests.support.image_server import ImageServer, Route

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 2000
LOOPBACK = AllowList.parse("127.0.0.1")


def fetcher(*, allow: AllowList = LOOPBACK, max_bytes: int = 1_000_000, timeout_s: float = 3.0) -> ImageUrlFetcher:
    return ImageUrlFetcher(max_bytes=max_bytes, timeout_s=timeout_s, allow=allow, allowed_ports=None)


async def test_an_allowed_server_image_arrives_whole_without_cookies_or_credentials(
    image_server: ImageServer,
) -> None:
    url = image_server.image("/shop/red%20shoe.jpg", JPEG)
    image_server.routes["/first"] = Route(headers={"Set-Cookie": "session=secret; Path=/", "Location": url}, status=302)
    got = await fetcher().fetch(image_server.url("/first"), user_id="u")
    assert got.data == JPEG and got.content_type == "image/jpeg"
    assert got.filename == "first"  # named after the URL the client gave
    second = image_server.requests[-1][1]
    assert "cookie" not in second and "authorization" not in second
    assert second["host"] == f"127.0.0.1:{image_server.port}"


async def test_loopback_is_refused_unless_allowed_and_the_answer_names_no_address(image_server: ImageServer) -> None:
    url = image_server.image("/a.jpg", JPEG)
    with pytest.raises(ImageUrlRefused) as refused:
        await fetcher(allow=AllowList()).fetch(url, user_id="u")
    assert "127.0.0.1" not in refused.value.detail and refused.value.extra["field"] == "image_url"
    assert image_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/a.jpg",
        "http://192.168.1.1/a.jpg",
        "http://100.64.0.1/a.jpg",
        "http://[::1]/a.jpg",
        "http://[fd00::1]/a.jpg",
        "http://[::ffff:10.0.0.1]/a.jpg",
        "http://[64:ff9b::a00:1]/a.jpg",
        "http://0x7f.2/a.jpg",
        "http://2130706434/a.jpg",
        "http://0.0.0.0/a.jpg",
        "http://224.0.0.1/a.jpg",
        "http://localhost/a.jpg",
        "http://metadata.internal/a.jpg",
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "http://user:pw@example.com/a.jpg",
    ],
)
async def test_private_local_and_odd_urls_are_refused_before_any_connection(url: str) -> None:
    with pytest.raises(ImageUrlRefused) as refused:
        await fetcher().fetch(url, user_id="u", field="bg_image_url")
    assert refused.value.status == 422 and refused.value.extra["field"] == "bg_image_url"
    for address in ("169.254", "10.0.0.1", "::1", "fd00"):
        assert address not in refused.value.detail.split("points")[0].replace(url, "")


async def test_ports_other_than_80_and_443_are_refused_by_default(image_server: ImageServer) -> None:
    strict = ImageUrlFetcher(max_bytes=1000, timeout_s=3, allow=LOOPBACK)
    with pytest.raises(ImageUrlRefused, match="port"):
        await strict.fetch(image_server.image("/a.jpg", JPEG), user_id="u")


async def test_a_redirect_into_the_metadata_service_is_refused(image_server: ImageServer) -> None:
    url = image_server.redirect("/innocent.jpg", "http://169.254.169.254/latest/meta-data/iam")
    with pytest.raises(ImageUrlRefused) as refused:
        await fetcher().fetch(url, user_id="u")
    assert "redirects" in refused.value.detail and "169.254" not in refused.value.detail


async def test_redirects_are_followed_five_times_and_no_more(image_server: ImageServer) -> None:
    image_server.image("/final.jpg", JPEG)
    for hop in range(6):
        image_server.redirect(f"/r{hop}", f"/r{hop + 1}" if hop < 5 else "/final.jpg", status=301 + hop % 2)
    assert (await fetcher().fetch(image_server.url("/r1"), user_id="u")).data == JPEG  # five redirects
    with pytest.raises(ImageUrlRefused, match="more than 5 redirects"):
        await fetcher().fetch(image_server.url("/r0"), user_id="u")


async def test_an_endless_body_is_cut_at_the_cap(image_server: ImageServer) -> None:
    image_server.routes["/endless.jpg"] = Route(endless=True, headers={"Content-Type": "image/jpeg"})
    started = time.monotonic()
    with pytest.raises(ImageUrlTooLarge) as too_large:
        await fetcher(max_bytes=2_000_000).fetch(image_server.url("/endless.jpg"), user_id="u")
    assert too_large.value.status == 413 and "2 MB" in too_large.value.detail
    assert time.monotonic() - started < 3


async def test_a_declared_gigabyte_is_refused_before_its_body(image_server: ImageServer) -> None:
    image_server.routes["/huge.jpg"] = Route(body=b"", headers={"Content-Length": str(1 << 30)})
    with pytest.raises(ImageUrlTooLarge):
        await fetcher().fetch(image_server.url("/huge.jpg"), user_id="u")


async def test_a_stalled_server_ends_at_the_deadline(image_server: ImageServer) -> None:
    image_server.routes["/slow.jpg"] = Route(body=JPEG, stall_s=5)
    started = time.monotonic()
    with pytest.raises(ImageUrlUnreachable, match="within 1 s"):
        await fetcher(timeout_s=1).fetch(image_server.url("/slow.jpg"), user_id="u")
    assert time.monotonic() - started < 2.5


async def test_error_answers_and_dead_hosts_are_unreachable(image_server: ImageServer) -> None:
    with pytest.raises(ImageUrlUnreachable, match="HTTP 404"):
        await fetcher().fetch(image_server.url("/missing.jpg"), user_id="u")
    with pytest.raises(ImageUrlUnreachable, match="cannot be resolved"):
        await fetcher().fetch("http://no-such-host.invalid/a.jpg", user_id="u")


async def test_an_allowed_name_may_resolve_to_loopback(image_server: ImageServer) -> None:
    url = image_server.image("/a.jpg", JPEG).replace("127.0.0.1", "localhost")
    assert (await fetcher(allow=AllowList.parse("localhost")).fetch(url, user_id="u")).data == JPEG
    with pytest.raises(ImageUrlRefused):
        await fetcher(allow=AllowList()).fetch(url, user_id="u")


def test_allow_list_entries_are_checked_at_start_up() -> None:
    allow = AllowList.parse("cdn.internal, 10.1.0.0/16 ,::1")
    assert allow.names == frozenset({"cdn.internal"}) and len(allow.networks) == 2
    with pytest.raises(ValueError, match="not a host name"):
        AllowList.parse("http://cdn/")


def test_production_refuses_a_loopback_allow_entry_unless_marked_for_tests() -> None:
    def problems(**env: object) -> list[str]:
        return [p for p in Settings(**env).production_problems() if "IMAGE_URL_ALLOW_HOSTS" in p]  # type: ignore[arg-type]

    assert problems(image_url_allow_hosts="cdn.example.com,10.0.0.0/8") == []
    assert problems(image_url_allow_hosts="127.0.0.1")
    assert problems(image_url_allow_hosts="localhost")
    assert problems(image_url_allow_hosts="0.0.0.0/0")
    assert problems(image_url_allow_hosts="::1")
    assert problems(image_url_allow_hosts="127.0.0.1", image_url_allow_loopback_for_tests=True) == []
