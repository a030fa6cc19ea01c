"""Bearer tokens, beyond ``tests/integration/api/test_auth.py``: algorithm confusion, oversized and odd tokens.

Every refusal is a 401 problem+json with ``WWW-Authenticate: Bearer``, and nothing about the key leaks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from core.settings import Settings
from tests.integration.hostile.helpers import Client, MakeUser, assert_problem, assert_still_serving
from tests.support.api_client import API
from tests.support.tokens import claims, token

URL = API + "/jobs"
# What an RS256 deployment would publish: the "public value" an attacker HMAC-signs with.
PUBLIC_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\n"
    "kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n"
    "0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\n"
    "cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\n"
    "mwIDAQAB\n"
    "-----END PUBLIC KEY-----\n"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes, digest: Any = hashlib.sha256) -> str:
    """A JWS built by hand: any header, HMAC-signed with any key (pyjwt refuses to do this with a PEM)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bad_header(settings: Settings, case: str) -> dict[str, str]:
    good = claims(settings, "alice")
    secret = settings.jwt_secret.encode()
    if case == "header RS256, HMAC-signed with the public key":
        tok = hand_signed({"alg": "RS256", "typ": "JWT"}, good, PUBLIC_PEM.encode())
    elif case == "header RS256, HMAC-signed with the real secret":
        tok = hand_signed({"alg": "RS256", "typ": "JWT"}, good, secret)
    elif case == "header HS256, signed with the public key":
        tok = hand_signed({"alg": "HS256", "typ": "JWT"}, good, PUBLIC_PEM.encode())
    elif case == "HS512 with the real secret":
        tok = hand_signed({"alg": "HS512", "typ": "JWT"}, good, secret, hashlib.sha512)
    elif case == "HS384 with the real secret":
        tok = hand_signed({"alg": "HS384", "typ": "JWT"}, good, secret, hashlib.sha384)
    elif case == "alg None spelled differently":
        none_header = _b64(json.dumps({"alg": "None", "typ": "JWT"}).encode())
        tok = f"{none_header}.{_b64(json.dumps(good).encode())}."
    elif case == "alg none with the real signature kept":
        real = token(settings, "alice").split(".")
        tok = f"{_b64(json.dumps({'alg': 'none'}).encode())}.{real[1]}.{real[2]}"
    elif case == "10 KB of garbage":
        tok = "a" * 10 * 1024
    elif case == "10 KB claim, wrong key":
        tok = token(settings, "alice", key="not-the-secret-0123456789abcdef0", pad="x" * 10 * 1024)
    elif case == "three dots":
        tok = "..."
    elif case == "not valid base64":
        tok = "eyJ!!!.eyJ!!!.sig"
    elif case == "jku header pointing elsewhere":
        tok = hand_signed({"alg": "HS256", "jku": "http://evil.example/keys"}, good, b"attacker-key")
    elif case == "sub is a number":
        tok = token(settings, sub=12345)
    elif case == "sub of 300 characters":
        tok = token(settings, "u" * 300)
    elif case == "sub with a trailing ideographic space":
        tok = token(settings, "alice\u3000")
    elif case == "sub with a leading space":
        tok = token(settings, " alice")
    elif case == "valid for ten years":
        tok = token(settings, exp=int(time.time()) + 10 * 365 * 24 * 3600)
    elif case == "not yet valid":
        tok = token(settings, nbf=int(time.time()) + 3600)
    elif case == "expired long ago":
        tok = token(settings, exp=1)
    elif case == "audience list without ours":
        tok = token(settings, aud=["a", "b"])
    elif case == "empty bearer":
        return {"Authorization": "Bearer "}
    elif case == "bearer with no space":
        return {"Authorization": f"Bearer{token(settings)}"}
    elif case == "token with an inner space":
        good_token = token(settings)
        return {"Authorization": f"Bearer {good_token[:20]} {good_token[20:]}"}
    elif case == "two tokens":
        return {"Authorization": f"Bearer {token(settings)}, Bearer {token(settings)}"}
    elif case == "token in the query string only":
        return {}
    else:
        raise AssertionError(case)
    return {"Authorization": f"Bearer {tok}"}


BAD = [
    "header RS256, HMAC-signed with the public key",
    "header RS256, HMAC-signed with the real secret",
    "header HS256, signed with the public key",
    "HS512 with the real secret",
    "HS384 with the real secret",
    "alg None spelled differently",
    "alg none with the real signature kept",
    "10 KB of garbage",
    "10 KB claim, wrong key",
    "three dots",
    "not valid base64",
    "jku header pointing elsewhere",
    "sub is a number",
    "sub of 300 characters",
    "sub with a trailing ideographic space",
    "sub with a leading space",
    "valid for ten years",
    "not yet valid",
    "expired long ago",
    "audience list without ours",
    "empty bearer",
    "bearer with no space",
    "token with an inner space",
    "two tokens",
    "token in the query string only",
]


@pytest.mark.parametrize("case", BAD)
async def test_bad_tokens_are_401_problems(api: Client, make_user: MakeUser, settings: Settings, case: str) -> None:
    url = URL + (f"?token={token(settings)}&access_token={token(settings)}" if "query" in case else "")
    r = await api.get(url, headers=_bad_header(settings, case))
    body = assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert settings.jwt_secret not in r.text
    assert len(r.text) < 2048, "the problem echoes the token back"
    assert body["detail"].startswith("Missing or invalid bearer token")
    user = await make_user(10)
    await assert_still_serving(api, user)


async def test_a_signed_token_whose_sub_holds_a_nul_byte_is_refused_cleanly(api: Client, settings: Settings) -> None:
    """A NUL cannot be stored in PostgreSQL text: the subject must be refused (401), not crash a query (500)."""
    nul_token = token(settings, "alice\x00admin")
    r = await api.get(URL, headers={"Authorization": f"Bearer {nul_token}"})
    assert_problem(r, 401, "unauthorized")


async def test_bearer_scheme_is_case_insensitive_and_allows_several_spaces(api: Client, settings: Settings) -> None:
    """RFC 7235 §2.1 and RFC 6750 §2.1: ``auth-scheme`` is case-insensitive and ``1*SP`` separates it
    from the token, so ``bearer  <token>`` is a valid header, not an attack."""
    good = token(settings, "spaces")
    for header in (f"bearer {good}", f"BEARER {good}", f"Bearer  {good}", f"  Bearer {good}  "):
        r = await api.get(URL, headers={"Authorization": header})
        assert r.status_code == 200, (header[:12], r.text)
