"""Signed links: the MAC binds method, path and expiry; expiries are whole minutes."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import InvalidSignature, LinkExpired
from core.signed_urls import EXPIRY_STEP_S, UrlSigner, batch_zip_path, job_result_path

SIGNER = UrlSigner(b"k" * 32, ttl_s=900)
NOW = 1_750_000_000.0


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["signature"][0]


def test_a_signed_link_verifies_until_it_expires() -> None:
    path = job_result_path(uuid.uuid4())
    signed_path, expires, signature = _parts(SIGNER.sign(path, now=NOW))
    assert signed_path == path
    assert NOW + 900 <= int(expires) < NOW + 900 + EXPIRY_STEP_S
    assert int(expires) % EXPIRY_STEP_S == 0
    SIGNER.verify("GET", path, expires, signature, now=NOW)
    SIGNER.verify("GET", path, expires, signature, now=int(expires))
    with pytest.raises(LinkExpired):
        SIGNER.verify("GET", path, expires, signature, now=int(expires) + 1)


def test_polls_within_a_minute_get_the_same_link() -> None:
    path = job_result_path(uuid.uuid4())
    start = (NOW // EXPIRY_STEP_S) * EXPIRY_STEP_S + 1
    assert SIGNER.sign(path, now=start) == SIGNER.sign(path, now=start + EXPIRY_STEP_S - 2)


@pytest.mark.parametrize("change", ["path", "other object", "method", "expiry", "signature", "key"])
def test_changing_anything_breaks_the_signature(change: str) -> None:
    job_id = uuid.uuid4()
    path, expires, signature = _parts(SIGNER.sign(job_result_path(job_id), now=NOW))
    method = "GET"
    signer = SIGNER
    if change == "path":
        path = batch_zip_path(job_id)
    elif change == "other object":
        path = job_result_path(uuid.uuid4())
    elif change == "method":
        method = "DELETE"
    elif change == "expiry":
        expires = str(int(expires) + 86_400)
    elif change == "signature":
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    else:
        signer = UrlSigner(b"j" * 32, ttl_s=900)
    with pytest.raises(InvalidSignature):
        signer.verify(method, path, expires, signature, now=NOW)


@pytest.mark.parametrize(
    ("expires", "signature"), [(None, "x"), ("123", None), ("", ""), ("12a", "x"), ("١٢٣", "x"), ("9" * 40, "x")]
)
def test_missing_or_malformed_parameters_are_refused(expires: str | None, signature: str | None) -> None:
    with pytest.raises(InvalidSignature):
        SIGNER.verify("GET", job_result_path(uuid.uuid4()), expires, signature, now=NOW)


def test_the_public_base_url_goes_in_front_of_the_path() -> None:
    signer = UrlSigner(b"k" * 32, ttl_s=60, base_url="https://api.example.com")
    path = batch_zip_path(uuid.uuid4())
    url = signer.sign(path, now=NOW)
    assert url.startswith("https://api.example.com" + path + "?expires=")
    _, expires, signature = _parts(url)
    signer.verify("GET", path, expires, signature, now=NOW)
