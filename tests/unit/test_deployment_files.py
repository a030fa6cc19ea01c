"""What ``docker compose up`` deploys is production: no secret has a default, nothing is published beyond
loopback. (The old compose.yaml defaulted JWT_SECRET to a value printed in this repository and
published the API on every interface.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_requires_every_secret_instead_of_defaulting_it() -> None:
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        for secret in ("JWT_SECRET", "WEBHOOK_SECRET", "SIGNED_URL_SECRET"):
            if secret in env:
                assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", env[secret]), (name, secret, env[secret])
        if "JWT_SECRET" in env:
            assert env.get("BGREMOVER_ENV") == "production", name


def test_compose_publishes_the_api_on_loopback_only_by_default() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            default = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(port))
            assert default.startswith("127.0.0.1:"), (name, port)


def test_the_image_and_compose_serve_through_the_guarded_server() -> None:
    """``python -m api.server`` adds the request-head timeout and connection cap bare uvicorn lacks."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    assert cmd and '"api.server"' in cmd[-1], cmd
    assert "api.server" in _compose()["services"]["api"]["command"]
    assert "uvicorn" not in " ".join(_compose()["services"]["api"]["command"])


def test_the_image_holds_every_package_the_services_import() -> None:
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE))
    assert {"api", "core", "db", "engine", "worker", "migrations"} <= copied, copied
