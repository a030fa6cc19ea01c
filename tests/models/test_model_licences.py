"""An operator who may not run copyleft weights (``ALLOWED_MODEL_LICENCES=Apache-2.0,MIT``) gets none
of them from ``make models``, still gets cut-outs from the tiers that need none, and a worker never
loads an excluded weight, even one another deployment left in the cache."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import TierUnavailable
from core.model_manifest import MODELS
from core.options import OutputOptions
from core.settings import Settings
from engine.pipeline import Engine
from tests.support.images import quokka
from tests.support.processes import env_with

ROOT = Path(__file__).resolve().parents[2]
COPYLEFT = {file for file, asset in MODELS.items() if "GPL" in asset.licence}


def test_models_fetches_no_copyleft_weight_and_basic_still_cuts_out(model_settings: Settings, tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    fetched = subprocess.run(
        [sys.executable, "-m", "engine.model_fetch", "--model-dir", str(model_dir)],
        cwd=ROOT,
        env=env_with(ALLOWED_MODEL_LICENCES="Apache-2.0,MIT"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert COPYLEFT, "the manifest's copyleft weights (IS-Net AGPL-3.0, RVM GPL-3.0)"
    names = {path.name for path in model_dir.iterdir()}
    assert not {name for name in names if any(name.startswith(Path(f).stem) for f in COPYLEFT)}
    assert "excluded" in fetched.stdout

    permissive = dataclasses.replace(model_settings, model_dir=model_dir, allowed_model_licences_raw="Apache-2.0,MIT")
    engine = Engine.load(permissive, tiers=["basic"])
    cutout = engine.remove(quokka(model_settings), "basic", OutputOptions())
    alpha = np.asarray(Image.open(io.BytesIO(cutout.data)).convert("RGBA"))[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # a subject kept, a background removed
    assert 0.05 < (alpha > 127).mean() < 0.95


def test_a_worker_never_loads_an_excluded_weight_even_when_it_is_cached(model_settings: Settings) -> None:
    if not all((model_settings.model_dir / f).is_file() for f in COPYLEFT):
        pytest.skip("the copyleft weights are not in the cache: run `make models`")
    only_apache = dataclasses.replace(model_settings, allowed_model_licences_raw="Apache-2.0")
    engine = Engine.load(only_apache, tiers=["basic", "professional"])
    assert engine.available_tiers()["basic"] is True
    assert engine.available_tiers()["professional"] is False
    assert not COPYLEFT & {runner.spec.file for runner in engine.runners.values()}
    with pytest.raises(TierUnavailable, match=r"AGPL-3\.0"):
        engine.tier_runners("professional")
