"""rembg, the tool people would pick instead, run beside us on the same weights.

rembg is installed from PyPI into its own virtualenv (``make rembg-venv`` → ``.venv-rembg``) so its
dependencies never meet ours. It would download its weights from GitHub, which this machine cannot
reach; :func:`rembg_env` points ``U2NET_HOME`` at a directory of links into our model cache, where
rembg's ``resolve_existing`` finds them (same files, sha256-verified by ``engine.model_fetch``).

Used by ``make eval`` (same-model quality baselines) and ``make bench-service`` (``rembg s``).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.model_manifest import U2NET, U2NETP

REMBG_VERSION = "2.0.86"
VENV = Path(os.environ.get("REMBG_VENV", Path(__file__).resolve().parent.parent / ".venv-rembg"))

# our tier model file → rembg's model name for the same weights
SAME_MODEL: dict[str, str] = {U2NETP.file: "u2netp", U2NET.file: "u2net"}


class RembgMissing(RuntimeError):
    """``.venv-rembg`` is not there: run ``make rembg-venv``."""


def rembg_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        raise RembgMissing(f"{python} not found: run `make rembg-venv` (installs rembg=={REMBG_VERSION} from PyPI)")
    return python


def rembg_env(model_dir: Path, home: Path) -> dict[str, str]:
    """The environment for a rembg process: ``U2NET_HOME`` = ``home``, filled with links to our weights."""
    home.mkdir(parents=True, exist_ok=True)
    for ours in SAME_MODEL:
        link = home / ours
        target = model_dir / ours
        if target.exists() and not link.exists():
            link.symlink_to(target)
    env = dict(os.environ)
    env["U2NET_HOME"] = str(home)
    env.pop("PYTHONPATH", None)  # our packages must not shadow rembg's imports
    return env
