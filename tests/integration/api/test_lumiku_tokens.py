"""Lumiku's tokens (``{userId, email, iat, exp}``, HS256, no ``sub``/``iss``/``aud``) under the settings a
Lumiku deployment uses, and only there: the default configuration stays as strict as before."""

from __future__ import annotations

import dataclasses
import time

import jwt
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from tests.support.tokens import LUMIKU_LIFETIME_S, auth, lumiku_token, token

API = "/api/background-remover"


async def test_a_lumiku_token_is_accepted_and_names_the_user_by_user_id(lumiku_api, lumiku_settings) -> None:
    r = await lumiku_api.get(API + "/credits/balance", headers=auth(lumiku_token(lumiku_settings, "clx0user1")))
    assert r.status_code == 200, r.text
    assert r.json()["userId"] == "clx0user1"


async def test_the_lumiku_default_seven_day_lifetime_is_within_the_cap(lumiku_api, lumiku_settings) -> None:
    assert lumiku_settings.jwt_max_lifetime_s >= LUMIKU_LIFETIME_S
    r = await lumiku_api.get(API + "/stats", headers=auth(lumiku_token(lumiku_settings, "clx0user2")))
    assert r.status_code == 200


async def test_user_id_decides_even_beside_a_sub(lumiku_api, lumiku_settings) -> None:
    tok = lumiku_token(lumiku_settings, "clx0alice", sub="clx0bob")
    r = await lumiku_api.get(API + "/credits/balance", headers=auth(tok))
    assert r.json()["userId"] == "clx0alice"


@pytest.mark.parametrize(
    "case", ["expired", "wrong key", "no userId", "alg none", "HS384", "too long", "future iat", "no iat", "empty"]
)
async def test_bad_lumiku_tokens_are_still_401(lumiku_api, lumiku_settings: Settings, case: str) -> None:
    s = lumiku_settings
    if case == "expired":
        tok = lumiku_token(s, "clx0u", iat=int(time.time()) - 7200, exp=int(time.time()) - 60)
    elif case == "wrong key":
        tok = lumiku_token(s, "clx0u", key="another-lumiku-deployments-secret-0123456789")
    elif case == "no userId":
        tok = lumiku_token(s, "clx0u", userId=None)
    elif case == "alg none":
        tok = jwt.encode({"userId": "clx0u", "iat": int(time.time()), "exp": int(time.time()) + 60}, "", "none")
    elif case == "HS384":
        now = int(time.time())
        tok = jwt.encode({"userId": "clx0u", "iat": now, "exp": now + 60}, s.jwt_secret, algorithm="HS384")
    elif case == "too long":
        tok = lumiku_token(s, "clx0u", exp=int(time.time()) + s.jwt_max_lifetime_s + 60)
    elif case == "future iat":
        tok = lumiku_token(s, "clx0u", iat=int(time.time()) + 3600)
    elif case == "no iat":
        tok = lumiku_token(s, "clx0u", iat=None)
    else:
        tok = lumiku_token(s, " ")
    r = await lumiku_api.get(API + "/stats", headers=auth(tok))
    assert r.status_code == 401, (case, r.text)
    assert r.json()["code"] == "unauthorized"


async def test_the_default_configuration_refuses_lumiku_tokens(client, settings: Settings) -> None:
    r = await client.get(API + "/stats", headers=auth(lumiku_token(settings, "clx0user3")))
    assert r.status_code == 401
    # and our own tokens keep working there
    assert (await client.get(API + "/stats", headers=auth(token(settings, "clx0user3")))).status_code == 200


async def test_one_check_can_be_switched_off_alone(settings: Settings, migrated_db: str) -> None:
    no_issuer = dataclasses.replace(settings, jwt_issuer="")
    async with AsyncTestClient(app=create_app(no_issuer)) as c:
        assert (await c.get(API + "/stats", headers=auth(token(settings, "u-1", iss=None)))).status_code == 200
        # the audience is still required and checked
        assert (await c.get(API + "/stats", headers=auth(token(settings, "u-1", aud=None)))).status_code == 401
        assert (await c.get(API + "/stats", headers=auth(token(settings, "u-1", aud="other")))).status_code == 401


@pytest.mark.parametrize("claim", ["exp", "iss", "scope"])
def test_a_claim_that_names_no_user_is_refused_at_start_up(settings: Settings, claim: str) -> None:
    with pytest.raises(ValueError, match="JWT_USER_CLAIM"):
        create_app(dataclasses.replace(settings, jwt_user_claim=claim))
