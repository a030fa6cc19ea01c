"""Outgoing webhooks: target validation, Standard Webhooks signatures, and delivery to a real local receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import BgRemoverError, InvalidWebhookUrl
from core.settings import Settings
from core.webhooks import (
    MAX_ATTEMPTS,
    DeliveryResult,
    DnsLookups,
    backoff_seconds,
    check_webhook_target,
    deliver,
    event_payload,
    fingerprint,
    generate_secret,
    headers_for,
    sign,
    validate_webhook_url,
    verify,
)
from core.webhooks import _dns as webhook_dns
from tests.support.webhook_receiver import receiving
from worker.notifications import WEBHOOK_LOOKUPS
from worker.webhook_worker import create_webhook_worker

SECRET = generate_secret()

# --- URL validation --------------------------------------------------------------------------------

PUBLIC = [
    "https://93.184.216.34/hook",
    "http://93.184.216.34:8080/a/b?c=d",
    "https://[2606:4700:4700::1111]/hook",
    "https://[::ffff:93.184.216.34]/hook",  # IPv4-mapped form of a public address
    "https://hooks.example.com/x",  # a name is only judged by its addresses, in check_webhook_target
]

PRIVATE = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/hook",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/",  # CGNAT
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/",
    "http://127.1/",
    "http://0/",
    "http://localhost/",
    "http://localhost./",
    "http://LocalHost:8080/",
    "http://api.localhost/",
    "http://metadata/",  # single labels resolve through search domains to internal hosts
    "http://printer.local/",
]

MALFORMED = [
    "ftp://93.184.216.34/hook",
    "file:///etc/passwd",
    "gopher://93.184.216.34/",
    "https://user:pass@93.184.216.34/hook",
    "https://user@93.184.216.34/hook",
    "https:///hook",
    "https://93.184.216.34:0/hook",
    "https://93.184.216.34:65536/hook",
    "https://93.184.216.34/" + "a" * 2048,
    "https://93.184.216.34/ho ok",
    "https://93.184.216.34/hook\n",
    "https://bad host.com/",
    "https://a..b.com/",
    "not a url",
    "",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_are_accepted(url: str) -> None:
    assert validate_webhook_url(url, allow_private=False, allowed_ports=None) == url


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34:22/", "https://hooks.example.com:6379/x", "http://[2606:4700::1]:8080/"]
)
def test_only_ports_80_and_443_unless_the_operator_allows_more(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match="port") as info:
        validate_webhook_url(url, allow_private=False)
    assert info.value.extra["allowedPorts"] == [80, 443]
    assert validate_webhook_url(url, allow_private=False, allowed_ports=frozenset({22, 6379, 8080})) == url
    assert (
        validate_webhook_url("https://hooks.example.com:443/x", allow_private=False)
        == "https://hooks.example.com:443/x"
    )


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_local_targets_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl) as info:
        validate_webhook_url(url, allow_private=False)
    assert info.value.code == "invalid_webhook_url"
    assert info.value.status == 422


@pytest.mark.parametrize("url", PRIVATE)
def test_private_targets_are_allowed_when_the_operator_says_so(url: str) -> None:
    assert validate_webhook_url(url, allow_private=True, allowed_ports=None) == url


@pytest.mark.parametrize("url", MALFORMED)
@pytest.mark.parametrize("allow_private", [False, True])
def test_malformed_urls_are_refused_even_with_private_targets_allowed(url: str, allow_private: bool) -> None:
    with pytest.raises(InvalidWebhookUrl):
        validate_webhook_url(url, allow_private=allow_private)


def test_the_error_belongs_to_the_service_tree() -> None:
    assert issubclass(InvalidWebhookUrl, BgRemoverError)
    assert InvalidWebhookUrl.title == "Invalid webhook URL"


def _fake_getaddrinfo(answers: dict[str, list[str]]) -> Callable[..., Any]:
    """A stand-in for the event loop's resolver (not our code) answering from a table."""

    async def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        result: list[tuple[Any, ...]] = []
        for address in answers[host]:
            if ":" in address:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return result

    return getaddrinfo


async def test_check_target_accepts_public_literals_and_refuses_private_ones() -> None:
    await check_webhook_target("https://93.184.216.34/hook", allow_private=False)
    await check_webhook_target("https://[2606:4700:4700::1111]/hook", allow_private=False)
    with pytest.raises(InvalidWebhookUrl):
        await check_webhook_target("http://2130706433/", allow_private=False)
    await check_webhook_target("http://127.0.0.1:9/", allow_private=True, allowed_ports=None)


async def test_check_target_judges_a_name_by_every_address_it_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {
        "public.example.com": ["93.184.216.34", "2606:4700:4700::1111"],
        "sneaky.example.com": ["93.184.216.34", "10.0.0.7"],
        "metadata.example.com": ["169.254.169.254"],
        "mapped.example.com": ["::ffff:127.0.0.1"],
    }
    monkeypatch.setattr(webhook_dns, "_getaddrinfo", _fake_getaddrinfo(answers))

    await check_webhook_target("https://public.example.com/hook", allow_private=False)
    for host in ("sneaky", "metadata", "mapped"):
        with pytest.raises(InvalidWebhookUrl, match="private or local"):
            await check_webhook_target(f"https://{host}.example.com/hook", allow_private=False)
        await check_webhook_target(f"https://{host}.example.com/hook", allow_private=True)
    with pytest.raises(InvalidWebhookUrl, match="cannot resolve host"):
        await check_webhook_target("https://nowhere.example.com/hook", allow_private=False)
    with pytest.raises(InvalidWebhookUrl, match="cannot resolve host"):
        await check_webhook_target("https://nowhere.example.com/hook", allow_private=True)


# --- signing ---------------------------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_published_vector() -> None:
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    body = b'{"data":{"id":"j1"},"type":"job.finished"}'
    mac = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign(secret, "msg_1", 1700000000, body) == "v1," + base64.b64encode(mac).decode()

    # Without the prefix the secret's own bytes are the key.
    plain = hmac.new(b"plain-secret", b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign("plain-secret", "msg_1", 1700000000, body) == "v1," + base64.b64encode(plain).decode()


def test_a_malformed_whsec_secret_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        sign("whsec_!!not base64!!", "msg_1", 1, b"{}")


def test_generated_secrets_are_fresh_32_byte_keys() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_headers_carry_id_timestamp_signature_and_type() -> None:
    body = b'{"a":1}'
    headers = headers_for(SECRET, "msg_42", 1700000000, body)
    assert headers == {
        "webhook-id": "msg_42",
        "webhook-timestamp": "1700000000",
        "webhook-signature": sign(SECRET, "msg_42", 1700000000, body),
        "content-type": "application/json",
        "user-agent": "bgremover-webhooks/1",
    }


def test_verify_round_trip_and_what_it_refuses() -> None:
    now = 1_700_000_000
    body = b'{"a":1}'
    headers = headers_for(SECRET, "msg_1", now, body)

    assert verify(SECRET, headers, body, now=now)
    assert verify(SECRET, {k.title(): v for k, v in headers.items()}, body, now=now)
    assert verify(SECRET, headers, body, now=now + 299)

    assert not verify(SECRET, headers, b'{"a":2}', now=now)  # tampered body
    assert not verify(generate_secret(), headers, body, now=now)  # someone else's secret
    assert not verify(SECRET, {**headers, "webhook-id": "msg_2"}, body, now=now)
    assert not verify(SECRET, headers, body, now=now + 301)  # stale
    assert not verify(SECRET, headers, body, now=now - 301)  # from the future
    assert not verify(SECRET, headers, body, now=now + 60, tolerance_s=30)
    assert not verify(SECRET, {**headers, "webhook-timestamp": "soon"}, body, now=now)
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert not verify(SECRET, {k: v for k, v in headers.items() if k != missing}, body, now=now)
    assert not verify(SECRET, {**headers, "webhook-signature": "v1,AAAA"}, body, now=now)
    assert not verify(SECRET, {**headers, "webhook-signature": "v1,é"}, body, now=now)


def test_verify_accepts_any_of_several_signatures() -> None:
    now = int(time.time())
    body = b"{}"
    old_secret = generate_secret()
    rotated = f"v1,bm90IGl0 {sign(old_secret, 'msg_1', now, body)} {sign(SECRET, 'msg_1', now, body)}"
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": rotated}
    assert verify(SECRET, headers, body)
    assert verify(old_secret, headers, body)
    assert not verify(generate_secret(), headers, body)


def test_during_a_rotation_both_secrets_sign_and_no_other() -> None:
    now = 1_700_000_000
    body = b'{"a":1}'
    previous = generate_secret()
    headers = headers_for(SECRET, "msg_1", now, body, also_sign_with=[previous])
    assert headers["webhook-signature"] == f"{sign(SECRET, 'msg_1', now, body)} {sign(previous, 'msg_1', now, body)}"
    assert verify(SECRET, headers, body, now=now)
    assert verify(previous, headers, body, now=now)
    assert not verify(generate_secret(), headers, body, now=now)


def test_a_fingerprint_names_a_secret_without_revealing_it() -> None:
    other = generate_secret()
    assert fingerprint(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()[:16]
    assert fingerprint(SECRET) == fingerprint(SECRET) != fingerprint(other)
    key = SECRET.removeprefix("whsec_")
    assert fingerprint(SECRET) not in SECRET and key[:8] not in fingerprint(SECRET)


# --- payloads and retry schedule -------------------------------------------------------------------


def test_event_payload_shape() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert event_payload("job.finished", {"id": "j1"}, now=moment) == {
        "type": "job.finished",
        "timestamp": "2026-01-02T03:04:05.678Z",
        "data": {"id": "j1"},
    }
    payload = event_payload("batch.finished", {})
    parsed = datetime.fromisoformat(payload["timestamp"])
    assert parsed.utcoffset() is not None and parsed.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60


def test_backoff_doubles_from_five_seconds_and_is_capped_at_an_hour() -> None:
    assert [backoff_seconds(n) for n in range(1, MAX_ATTEMPTS)] == [5, 10, 20, 40, 80, 160, 320]
    assert MAX_ATTEMPTS == 8
    assert backoff_seconds(10) == 2560
    assert backoff_seconds(11) == 3600
    assert backoff_seconds(10_000) == 3600
    with pytest.raises(ValueError):
        backoff_seconds(0)


def test_backoff_jitter_is_small_and_reproducible() -> None:
    for attempt in range(1, 15):
        base = backoff_seconds(attempt)
        jittered = backoff_seconds(attempt, rng=random.Random(attempt))
        assert base <= jittered <= min(int(base * 1.1), 3600)
        assert jittered == backoff_seconds(attempt, rng=random.Random(attempt))


# --- delivery to a real receiver -------------------------------------------------------------------


EVENT = event_payload("job.finished", {"job_id": "j-1", "status": "succeeded", "at": datetime(2026, 1, 1, tzinfo=UTC)})


async def test_a_2xx_answer_is_a_signed_successful_delivery() -> None:
    async with receiving(SECRET, 200) as receiver:
        result = await deliver(receiver.url(), EVENT, secret=SECRET, msg_id="msg_ok", allow_private=True)
    assert result.ok and result.status_code == 200 and result.error is None and not result.retryable
    [request] = receiver.requests
    assert request.signature_valid
    assert request.headers["webhook-id"] == "msg_ok"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "bgremover-webhooks/1"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.body == json.dumps(EVENT, separators=(",", ":"), sort_keys=True, default=str).encode()
    assert json.loads(request.body)["data"]["at"] == "2026-01-01 00:00:00+00:00"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (408, True), (429, True), (410, False), (404, False), (400, False), (401, False)],
)
async def test_failed_answers_say_whether_a_retry_can_help(status: int, retryable: bool) -> None:
    async with receiving(SECRET, status) as receiver:
        result = await deliver(receiver.url(), EVENT, secret=SECRET, msg_id="msg_x", allow_private=True)
    assert receiver.requests[0].signature_valid
    assert not result.ok
    assert result.status_code == status
    assert result.retryable is retryable
    assert result.error and str(status) in result.error


async def test_redirects_are_not_followed() -> None:
    async with receiving(SECRET, 302, extra_headers={"location": "http://169.254.169.254/"}) as receiver:
        result = await deliver(receiver.url(), EVENT, secret=SECRET, msg_id="msg_r", allow_private=True)
    assert len(receiver.requests) == 1
    assert (result.ok, result.status_code, result.retryable) == (False, 302, False)


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await deliver(f"http://127.0.0.1:{port}/hook", EVENT, secret=SECRET, msg_id="m", allow_private=True)
    assert not result.ok and result.retryable and result.status_code is None
    assert result.error


async def test_a_receiver_that_never_answers_times_out_retryably() -> None:
    async with receiving(SECRET, 200, hang=True) as receiver:
        started = time.monotonic()
        result = await deliver(receiver.url(), EVENT, secret=SECRET, msg_id="m", allow_private=True, timeout_s=0.3)
    assert time.monotonic() - started < 5
    assert not result.ok and result.retryable and result.status_code is None


async def _deliver_at_once(
    url: str, count: int, lookups: DnsLookups, user_id: str, timeout_s: float = 5.0
) -> list[DeliveryResult]:
    """``count`` deliveries of one user's events to ``url`` at once, resolved through ``lookups``."""
    return await asyncio.gather(
        *[
            deliver(
                url,
                EVENT,
                secret=SECRET,
                msg_id=f"m{i}",
                allow_private=True,
                lookups=lookups,
                user_id=user_id,
                timeout_s=timeout_s,
            )
            for i in range(count)
        ]
    )


async def test_one_users_silent_name_server_does_not_hold_another_users_delivery() -> None:
    """At delivery the worker resolved every host on four shared threads, with no claim per user and no
    memory of failures: a name server that answered the API and then went silent held them all, and
    another user's webhook was never delivered (second review). The worker now resolves through
    ``DnsLookups`` as the API does: one lookup per user at once, a failed host refused for a while."""
    release = threading.Event()

    def lookup(host: str, port: int) -> list[tuple[Any, ...]]:
        if host == "silent.example":
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "no answer")
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    lookups = DnsLookups(threads=4, negative_ttl_s=5.0, timeout_s=0.5, lookup=lookup)
    try:
        async with receiving(SECRET, 200) as receiver:
            silent = f"http://silent.example:{receiver.port}/hook"
            hostile = await _deliver_at_once(silent, 8, lookups, "mallory", timeout_s=1.0)
            started = time.monotonic()
            honest = await deliver(
                receiver.url(host="fast.example"),
                EVENT,
                secret=SECRET,
                msg_id="a",
                allow_private=True,
                lookups=lookups,
                user_id="alice",
            )
            seconds = time.monotonic() - started
    finally:
        release.set()
        lookups.close()
    assert honest.ok, honest
    assert seconds < 2
    assert all(not r.ok and r.retryable for r in hostile), hostile
    assert len(receiver.requests) == 1


async def test_one_users_deliveries_at_once_resolve_in_turn_and_all_arrive() -> None:
    """One lookup per user at once must not fail a user's own concurrent deliveries (a worker takes
    several of one user's webhooks at a time): they wait their turn within the attempt's deadline."""
    asked: list[str] = []

    def lookup(host: str, port: int) -> list[tuple[Any, ...]]:
        asked.append(host)
        time.sleep(0.05)
        return socket.getaddrinfo("127.0.0.1", port, type=socket.SOCK_STREAM)

    lookups = DnsLookups(threads=4, negative_ttl_s=5.0, timeout_s=0.5, lookup=lookup)
    try:
        async with receiving(SECRET, 200) as receiver:
            results = await _deliver_at_once(receiver.url(host="hooks.example"), 6, lookups, "alice")
    finally:
        lookups.close()
    assert all(r.ok for r in results), results
    assert len(receiver.requests) == 6 and len(asked) == 6


def test_the_webhook_worker_resolves_through_per_user_lookups(settings: Settings) -> None:
    worker = create_webhook_worker(settings)
    assert isinstance(worker.ctx[WEBHOOK_LOOKUPS], DnsLookups)
    assert worker.ctx[WEBHOOK_LOOKUPS].threads == settings.webhook_dns_threads


async def test_private_targets_are_refused_at_delivery_without_a_request() -> None:
    async with receiving(SECRET, 200) as receiver:
        result = await deliver(receiver.url(), EVENT, secret=SECRET, msg_id="m", allow_private=False)
        malformed = await deliver("ftp://93.184.216.34/", EVENT, secret=SECRET, msg_id="m", allow_private=False)
    assert receiver.requests == []
    assert not result.ok and not result.retryable and result.status_code is None
    assert not malformed.ok and not malformed.retryable


async def test_delivery_connects_to_the_checked_address_and_keeps_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # ::1 is tried first and refused (the receiver listens on IPv4 only), then 127.0.0.1 answers.
    answers = {"hooks.example.test": ["::1", "127.0.0.1"], "rebound.example.com": ["10.0.0.1"]}
    monkeypatch.setattr(webhook_dns, "_getaddrinfo", _fake_getaddrinfo(answers))
    async with receiving(SECRET, 200) as receiver:
        result = await deliver(
            receiver.url(host="hooks.example.test"), EVENT, secret=SECRET, msg_id="m", allow_private=True
        )
        rebound = await deliver(
            f"https://rebound.example.com:{receiver.port}/", EVENT, secret=SECRET, msg_id="m", allow_private=False
        )
        unresolvable = await deliver(
            f"https://gone.example.com:{receiver.port}/", EVENT, secret=SECRET, msg_id="m", allow_private=False
        )
    assert result.ok, result
    assert [r.headers["host"] for r in receiver.requests] == [f"hooks.example.test:{receiver.port}"]
    # The name now points inside the network (DNS rebinding): refused for good, nothing sent.
    assert (rebound.ok, rebound.retryable) == (False, False)
    assert rebound.error and "private" in rebound.error
    # A lookup failing at delivery time may be a passing DNS outage.
    assert (unresolvable.ok, unresolvable.retryable) == (False, True)
    assert unresolvable.error and "cannot resolve host" in unresolvable.error
