"""Data flows one way: api → core/db, worker → engine/core/db, engine → core, db → core. A package
that imports one above it, or an API process that loads the engine's native libraries, fails here."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "db": {"core"},
    "engine": {"core"},
    "api": {"core", "db"},
    "worker": {"core", "db", "engine"},
    "tools": {"core", "engine"},
}
PROJECT = {*ALLOWED, "bgremover_client", "scripts", "tests"}
CLIENT = ROOT / "clients" / "python" / "bgremover_client"


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found & PROJECT


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - ALLOWED[package] - {package})
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {file: pkgs for file, pkgs in wrong.items() if pkgs} == {}


def test_the_client_imports_nothing_of_the_service() -> None:
    """It is its own distribution (clients/python): a customer installs it without the service."""
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - {"bgremover_client"})
        for path in sorted(CLIENT.rglob("*.py"))
    }
    assert {file: pkgs for file, pkgs in wrong.items() if pkgs} == {}


def test_the_api_process_loads_neither_the_engine_nor_its_native_libraries() -> None:
    probe = (
        "import sys, json; import api.app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'onnxruntime', 'cv2', 'scipy', 'engine', 'worker', 'tools'})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
