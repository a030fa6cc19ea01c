"""One spelling per account, and no token for life.

Before: ``sub`` was stripped, so a token for ``" alice"`` or ``"alice\\u3000"`` read and spent alice's
credits, and a token could be valid for a century.
"""

from __future__ import annotations

import time
import unicodedata
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api import tokens
from api.auth import make_token
from core.settings import Settings
from db import credits
from tests.support.tokens import auth, token

BALANCE = "/api/background-remover/credits/balance"

# Each is another spelling of the same visible name; every one must be refused, none repaired.
ALIASES = {
    "leading space": " {}",
    "trailing space": "{} ",
    "trailing tab": "{}\t",
    "trailing newline": "{}\n",
    "ideographic space": "{}\u3000",
    "no-break space": "\u00a0{}",
    "zero-width space": "{}\u200b",
    "byte order mark": "\ufeff{}",
    "left-to-right mark": "{}\u200e",
    "file separator (str.strip strips it)": "{}\x1c",
    "next line": "{}\x85",
}


@pytest.fixture
async def alice(client: AsyncTestClient[Litestar]) -> str:
    """A user with 500 credits whose id is in canonical form."""
    user = f"alice-{uuid.uuid4().hex[:8]}"
    await credits.grant(user, 500, reason="test", entry_key=f"test-grant:{user}")
    return user


@pytest.mark.parametrize("spelling", list(ALIASES.values()), ids=list(ALIASES))
async def test_another_spelling_of_a_user_id_is_refused_not_aliased(
    client: AsyncTestClient[Litestar], settings: Settings, alice: str, spelling: str
) -> None:
    r = await client.get(BALANCE, headers=auth(token(settings, spelling.format(alice))))
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "unauthorized"
    assert "balance" not in r.json()  # alice's 500 credits are not shown to another spelling of her


async def test_a_decomposed_accent_is_not_the_composed_user(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    composed = f"jos\u00e9-{uuid.uuid4().hex[:6]}"
    await credits.grant(composed, 70, reason="test", entry_key=f"test-grant:{composed}")
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert (await client.get(BALANCE, headers=auth(token(settings, decomposed)))).status_code == 401
    own = await client.get(BALANCE, headers=auth(token(settings, composed)))
    assert own.status_code == 200 and own.json()["balance"] == 70


async def test_the_canonical_id_and_inner_spaces_still_work(
    client: AsyncTestClient[Litestar], settings: Settings, alice: str
) -> None:
    r = await client.get(BALANCE, headers=auth(token(settings, alice)))
    assert r.status_code == 200 and r.json()["balance"] == 500
    other = await client.get(BALANCE, headers=auth(token(settings, f"{alice} smith")))
    assert other.status_code == 200 and other.json()["balance"] == 0, "an inner space is a different user"


async def test_a_token_living_longer_than_the_maximum_is_refused(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    now = int(time.time())
    limit = settings.jwt_max_lifetime_s
    cases = {
        "a century": token(settings, iat=now, exp=now + 100 * 365 * 24 * 3600),
        "one minute too long": token(settings, iat=now, exp=now + limit + 60),
        "issued long ago, valid for an hour more": token(settings, iat=now - limit, exp=now + 3600),
        "no iat": token(settings, iat=None, exp=now + 600),
        "issued in the future": token(settings, iat=now + 3600, exp=now + 7200),
    }
    for case, tok in cases.items():
        r = await client.get(BALANCE, headers=auth(tok))
        assert r.status_code == 401, (case, r.text)
        assert r.json()["code"] == "unauthorized", case
    exactly = token(settings, iat=now - 10, exp=now - 10 + limit)
    assert (await client.get(BALANCE, headers=auth(exactly))).status_code == 200


async def test_development_tokens_are_acceptable(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    """``make token`` (12 hours by default) mints what the API accepts, and refuses to mint what it would not."""
    assert (await client.get(BALANCE, headers=auth(make_token(settings, "alice")))).status_code == 200
    with pytest.raises(SystemExit) as refused:
        tokens.main(["--user", "alice", "--hours", str(settings.jwt_max_lifetime_s / 3600 + 1)])
    assert refused.value.code == 2
    with pytest.raises(SystemExit):
        tokens.main(["--user", "alice\u3000"])
