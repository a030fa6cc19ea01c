from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from core.settings import DEV_JWT_SECRET, DEV_SIGNED_URL_SECRET, DEV_WEBHOOK_SECRET, Settings, UnsafeSettings


def test_defaults_work_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "MAX_IMAGE_BYTES", "MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/bgremover"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.max_image_bytes == 20 * 1024 * 1024
    assert s.batch_max_images == 500
    assert ".cache/bgremover/models" in str(s.model_dir)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MEGAPIXELS", "12.5")
    monkeypatch.setenv("MODEL_DIR", "~/models")
    s = Settings()
    assert s.max_megapixels == 12.5
    assert not str(s.model_dir).startswith("~")


def test_a_malformed_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_MAX_IMAGES", "lots")
    with pytest.raises(ValueError, match="BATCH_MAX_IMAGES"):
        Settings()


def _production(**overrides: Any) -> Settings:
    safe: dict[str, Any] = {
        "env": "production",
        "jwt_secret": "k" * 32,
        "webhook_secret": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==",
        "webhook_allow_private": False,
        "signed_url_secret": "s" * 32,
        "image_url_allow_hosts": "",
    }
    return dataclasses.replace(Settings(), **{**safe, **overrides})


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BGREMOVER_ENV", raising=False)
    assert Settings().env == "production"
    monkeypatch.setenv("BGREMOVER_ENV", "staging")
    with pytest.raises(ValueError, match="BGREMOVER_ENV"):
        Settings()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"jwt_secret": DEV_JWT_SECRET}, "JWT_SECRET"),
        ({"jwt_secret": "change-me-to-a-long-random-secret-of-32-bytes-or-more"}, "JWT_SECRET"),
        ({"jwt_secret": "k" * 31}, "31 bytes"),
        ({"jwt_secret": "k" * 47, "jwt_algorithm": "HS384"}, "HS384 needs at least 48"),
        ({"jwt_secret": "é" * 16}, None),  # 32 bytes in UTF-8: long enough
        ({"webhook_secret": DEV_WEBHOOK_SECRET}, "WEBHOOK_SECRET"),
        ({"webhook_allow_private": True}, "WEBHOOK_ALLOW_PRIVATE"),
        ({"signed_url_secret": DEV_SIGNED_URL_SECRET}, "SIGNED_URL_SECRET"),
        ({"signed_url_secret": "s" * 31}, "31 bytes"),
    ],
)
def test_each_unsafe_setting_is_named(overrides: dict[str, Any], named: str | None) -> None:
    problems = _production(**overrides).production_problems()
    if named is None:
        assert problems == []
    else:
        assert len(problems) == 1 and named in problems[0], problems


def test_production_refuses_and_development_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test")
    _production().check_production(log)
    with pytest.raises(UnsafeSettings) as refused:
        _production(jwt_secret=DEV_JWT_SECRET).check_production(log)
    assert refused.value.code != 0 and "JWT_SECRET" in str(refused.value.code)
    with caplog.at_level(logging.WARNING):
        _production(env="development", jwt_secret=DEV_JWT_SECRET).check_production(log)
    assert "JWT_SECRET" in caplog.text


def test_a_short_metrics_token_stops_a_production_api() -> None:
    """Production took a 1-byte ``METRICS_TOKEN``, which a scraper guesses at once (second review)."""
    short = _production(metrics_token="x", metrics_port=0).api_production_problems()
    assert len(short) == 1 and "METRICS_TOKEN is 1 bytes long" in short[0]
    assert _production(metrics_token="t" * 32, metrics_port=0).api_production_problems() == []


def test_admin_users_are_a_set_of_trimmed_ids() -> None:
    assert dataclasses.replace(Settings(), admin_users=" ops, ,billing-bot ").admin_user_ids == {"ops", "billing-bot"}
    assert dataclasses.replace(Settings(), admin_users="").admin_user_ids == frozenset()


@pytest.mark.parametrize(
    ("metrics_token", "metrics_port", "refused"),
    [("", 0, True), ("t" * 32, 0, False), ("", 9100, False), ("t" * 32, 9100, False)],
    ids=["no token, public port", "token", "own port", "token and own port"],
)
def test_the_api_needs_a_metrics_token_or_a_metrics_port_in_production(
    metrics_token: str, metrics_port: int, refused: bool
) -> None:
    settings = _production(metrics_token=metrics_token, metrics_port=metrics_port)
    problems = settings.api_production_problems()
    assert (len(problems) == 1 and "METRICS_TOKEN" in problems[0] and "METRICS_PORT" in problems[0]) is refused
    # the worker serves no API metrics: its check does not ask
    assert settings.production_problems() == []
    if refused:
        with pytest.raises(UnsafeSettings):
            settings.check_production(logging.getLogger("test"), api=True)
        settings.check_production(logging.getLogger("test"))
