"""The client is its own distribution: a customer's ``pip install`` of ``clients/python`` gets the
client and the ``bgremover`` command, and none of the service's heavy dependencies.

It installs into a fresh virtualenv from the package registry (httpx and the build backend), as a
customer would; about half a minute on a fresh machine."""

from __future__ import annotations

import json
import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVICE_ONLY = {
    "onnxruntime",
    "opencv-python",
    "opencv-python-headless",
    "litestar",
    "asyncpg",
    "piccolo",
    "arq",
    "scipy",
    "numpy",
    "redis",
    "uvicorn",
}


def test_pip_install_of_the_client_folder_brings_no_service_dependency(tmp_path: Path) -> None:
    env_dir = tmp_path / "customer"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    # a copy, because pip builds in the source folder (build/, egg-info) and the checkout stays clean
    source = shutil.copytree(
        ROOT / "clients" / "python",
        tmp_path / "bgremover-client",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert "bgremover-client" in installed
    assert installed & SERVICE_ONLY == set()

    helped = subprocess.run([str(env_dir / "bin" / "bgremover"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "remove" in helped.stdout
    imported = subprocess.run(
        [str(python), "-c", "import bgremover_client, sys; print(bgremover_client.Client.__name__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout: the installed copy must stand on its own
    )
    assert imported.stdout.strip() == "Client", imported.stderr
