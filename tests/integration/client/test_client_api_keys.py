"""API keys through the Python client and the ``bgremover keys`` command, against the real API process."""

from __future__ import annotations

import asyncio

import pytest
from bgremover_client import AuthenticationError, Client, PermissionDenied
from bgremover_client.cli import EXIT_AUTH, EXIT_OK, main


async def test_client_creates_uses_lists_and_revokes_a_key(base_url, make_user) -> None:
    user = await make_user(12)
    token = user.headers["Authorization"].removeprefix("Bearer ")

    def scenario() -> None:
        with Client(base_url, token) as bg:
            created = bg.create_api_key("ci")
            assert created.key is not None and created.key.startswith("bgr_")
            other = bg.create_api_key("other")
        with Client(base_url, api_key=created.key) as by_key:
            assert by_key.balance().balance == 12
            listed = by_key.api_keys()
            assert [(k.id, k.prefix, k.name, k.key) for k in listed] == [
                (created.id, created.prefix, "ci", None),
                (other.id, other.prefix, "other", None),
            ]
            with pytest.raises(PermissionDenied) as refused:
                by_key.create_api_key("from a key")
            assert refused.value.code == "token_required"
            assert created.scope == "basic"
            with pytest.raises(PermissionDenied) as narrow:
                by_key.revoke_api_key(other)
            assert narrow.value.code == "insufficient_scope"
            by_key.revoke_api_key(created)
            with pytest.raises(AuthenticationError):
                by_key.balance()
        with pytest.raises(ValueError):
            Client(base_url, token, api_key=created.key)

    await asyncio.to_thread(scenario)


async def test_cli_keys_create_list_revoke(base_url, make_user, capsys, monkeypatch) -> None:
    user = await make_user(5)
    token = user.headers["Authorization"].removeprefix("Bearer ")
    monkeypatch.delenv("BGREMOVER_TOKEN", raising=False)
    monkeypatch.delenv("BGREMOVER_API_KEY", raising=False)
    common = ["--url", base_url]

    def run(*args: str) -> int:
        return main([*common, *args])

    assert await asyncio.to_thread(run, "--token", token, "keys", "create", "--name", "backup job") == EXIT_OK
    printed = capsys.readouterr()
    key = printed.out.strip()
    assert key.startswith("bgr_") and "shown this once" in printed.err

    monkeypatch.setenv("BGREMOVER_API_KEY", key)  # the environment is enough
    assert await asyncio.to_thread(run, "balance") == EXIT_OK
    assert capsys.readouterr().out.strip() == "5 credits"
    assert await asyncio.to_thread(run, "keys", "list") == EXIT_OK
    listing = capsys.readouterr().out
    assert key[:12] in listing and key not in listing and "backup job" in listing
    key_id = listing.split()[0]

    assert await asyncio.to_thread(run, "--token", token, "keys", "revoke", key_id) == EXIT_OK
    assert "Revoked" in capsys.readouterr().out
    assert await asyncio.to_thread(run, "balance") == EXIT_AUTH
    assert "Missing or invalid API key" in capsys.readouterr().err


async def test_cli_creates_a_manage_key_only_when_asked(base_url, make_user, capsys, monkeypatch) -> None:
    user = await make_user(0)
    token = user.headers["Authorization"].removeprefix("Bearer ")
    monkeypatch.delenv("BGREMOVER_TOKEN", raising=False)
    monkeypatch.delenv("BGREMOVER_API_KEY", raising=False)

    def run(*args: str) -> int:
        return main(["--url", base_url, "--token", token, *args])

    assert await asyncio.to_thread(run, "keys", "create", "--name", "rotation", "--scope", "manage") == EXIT_OK
    manage = capsys.readouterr().out.strip()
    assert await asyncio.to_thread(run, "keys", "create", "--name", "export") == EXIT_OK
    basic = capsys.readouterr().out.strip()
    assert await asyncio.to_thread(run, "keys", "list") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [(manage[:12] in line, "manage" in line) for line in lines[:1]] == [(True, True)]
    assert basic[:12] in lines[1] and "  basic  " in lines[1]
