"""An npm remove.bg client (``remove.bg`` 1.3.0, MIT, by Eddy Verbruggen), installed from the lockfile
beside this file into a cache outside the repository, and called from pytest through ``node``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def _cache_dir() -> Path:
    lock = (HERE / "package-lock.json").read_bytes()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bgremover" / f"npm-removebg-{hashlib.sha256(lock).hexdigest()[:12]}"


def install() -> Path:
    """``node_modules`` of the pinned client (``npm ci`` once per lockfile; later runs reuse it)."""
    target = _cache_dir()
    modules = target / "node_modules"
    if (modules / "remove.bg" / "package.json").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed for the npm remove.bg client test (Node.js 18 or newer)")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, target / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=target,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return modules


@dataclass(frozen=True)
class NpmRemoveBg:
    modules: Path
    base_url: str

    def call(self, function: str, **options: Any) -> dict[str, Any]:
        """``removeBg[function](options)`` in node: ``{"ok": True, "result": …}`` or ``{"ok": False, "errors": …}``."""
        env = {**os.environ, "NODE_PATH": str(self.modules), "REMOVEBG_BASE_URL": self.base_url}
        done = subprocess.run(
            ["node", "-r", str(HERE / "endpoint.cjs"), str(HERE / "call.cjs"), function, json.dumps(options)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer
