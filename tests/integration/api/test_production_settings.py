"""In production (the default), a process that would serve with a public secret, a short signing key or
a testing-only switch refuses to start: non-zero exit, and a message that names the setting.

The defaults are in this repository, so a deployment that kept them had no secret at all: a token
signed with the default ``JWT_SECRET`` could act as any user and, with ``scope: admin``, grant itself
credits.
"""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from core.settings import DEV_SIGNED_URL_SECRET
from core.webhooks import generate_secret
from tests.support.processes import ROOT, env_with, free_port

API_FACTORY = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", "0"]
API_SERVER = [sys.executable, "-m", "api.server", "--port", "0"]
WORKER = [sys.executable, "-m", "worker"]
STRONG = {
    "JWT_SECRET": secrets.token_urlsafe(48),
    "WEBHOOK_SECRET": generate_secret(),
    "SIGNED_URL_SECRET": secrets.token_urlsafe(48),
    "METRICS_TOKEN": secrets.token_hex(32),
}


def _env(**settings: str | None) -> dict[str, str]:
    env = env_with(BGREMOVER_ENV="production", **STRONG)
    env.pop("WEBHOOK_ALLOW_PRIVATE", None)
    env.pop("IMAGE_URL_ALLOW_HOSTS", None)  # the suite allows its loopback image server
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _start(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an entry point; one that starts serving instead of refusing is stopped after a while."""
    try:
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(command[1:])} started serving instead of refusing") from exc


@pytest.mark.parametrize(
    "command", [API_SERVER, API_FACTORY, WORKER], ids=["python -m api.server", "api factory under uvicorn", "worker"]
)
@pytest.mark.parametrize("env_value", ["production", None], ids=["BGREMOVER_ENV=production", "BGREMOVER_ENV unset"])
def test_the_public_default_secrets_stop_every_serving_process(command: list[str], env_value: str | None) -> None:
    result = _start(command, _env(BGREMOVER_ENV=env_value, JWT_SECRET=None, WEBHOOK_SECRET=None))
    assert result.returncode != 0
    assert "refuses to start" in result.stderr, result.stderr
    assert "JWT_SECRET" in result.stderr
    assert "WEBHOOK_SECRET" in result.stderr
    assert "Traceback" not in result.stderr, "an operator should read a message, not a stack trace"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("JWT_SECRET", "change-me-to-a-long-random-secret-of-32-bytes-or-more"),  # the old compose.yaml default
        ("JWT_SECRET", "x" * 31),
        ("WEBHOOK_ALLOW_PRIVATE", "1"),
        ("SIGNED_URL_SECRET", DEV_SIGNED_URL_SECRET),
        ("SIGNED_URL_SECRET", "x" * 31),
        ("IMAGE_URL_ALLOW_HOSTS", "cdn.example.com,127.0.0.0/8"),
    ],
    ids=[
        "old compose default",
        "31-byte key",
        "private webhooks",
        "public link key",
        "31-byte link key",
        "image URLs into loopback",
    ],
)
def test_each_unsafe_setting_alone_stops_the_api(setting: str, value: str) -> None:
    result = _start(API_FACTORY, _env(**{setting: value}))
    assert result.returncode != 0
    assert setting in result.stderr, result.stderr


def test_safe_production_settings_build_both_processes() -> None:
    """The check refuses what is unsafe, not production itself (nothing is started: only built)."""
    probe = (
        "from core.settings import get_settings; from api.app import create_app; "
        "from worker.runner import create_worker; create_app(); create_worker(get_settings()); print('built')"
    )
    result = _start([sys.executable, "-c", probe], _env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "built"


def test_production_without_a_metrics_token_refuses_to_start_unless_metrics_have_their_own_port() -> None:
    """``/metrics`` used to be public in production by default: queue depth and the oldest job's age,
    the timing signal for flooding the synchronous routes. Without ``METRICS_TOKEN`` the API now refuses
    to start, unless ``METRICS_PORT`` serves metrics on an internal listener instead; the worker, which
    serves no API metrics, is not concerned."""
    for command in (API_SERVER, API_FACTORY):
        result = _start(command, _env(METRICS_TOKEN=None))
        assert result.returncode != 0, result.stderr
        assert "refuses to start" in result.stderr and "METRICS_TOKEN" in result.stderr, result.stderr
        assert "METRICS_PORT" in result.stderr
    probe = "from api.app import create_app; create_app(); print('built')"
    built = _start([sys.executable, "-c", probe], _env(METRICS_TOKEN=None, METRICS_PORT=str(free_port())))
    assert built.returncode == 0, built.stderr
    worker = (
        "from core.settings import get_settings; from worker.runner import create_worker; create_worker(get_settings())"
    )
    assert _start([sys.executable, "-c", worker], _env(METRICS_TOKEN=None)).returncode == 0
