"""Fixtures for the tests on real weights; they skip (with the command to run) when the cache lacks them.

This directory's ``engine`` replaces the shared one (``tests/support/fixtures_worker.py``): here it skips
when no weights are installed instead of loading an engine with no tier.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from core.model_manifest import EVAL_ASSETS
from core.settings import Settings, get_settings
from core.tiers import TIERS, model_installed
from engine.model_fetch import Status, verify
from engine.pipeline import Engine


@pytest.fixture(scope="session")
def model_settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def engine(model_settings: Settings) -> Engine:
    """One engine for the whole run (sessions are expensive), with whatever models are installed."""
    if not any(model_installed(t, model_settings.model_dir) for t in TIERS):
        pytest.skip(f"no model weights in {model_settings.model_dir}: run `make models` (python -m engine.model_fetch)")
    return Engine.load(model_settings)


@pytest.fixture(scope="session")
def quokka(model_settings: Settings) -> tuple[bytes, NDArray[np.bool_]]:
    """The annotated photo's bytes and its polygon as a boolean mask."""
    for asset in EVAL_ASSETS.values():
        if verify(model_settings.model_dir / asset.file, asset) is not Status.OK:
            pytest.skip(f"{asset.file} not in the cache: run `python -m engine.model_fetch --eval`")
    model_dir: Path = model_settings.model_dir
    data = (model_dir / "quokka.jpg").read_bytes()
    ann = json.loads((model_dir / "quokka_annotations.json").read_text())
    points = np.array([[p["x"], p["y"]] for p in ann["polygons"][0]["keypoints"]], dtype=np.int32)
    with Image.open(io.BytesIO(data)) as image:
        mask = np.zeros((image.height, image.width), np.uint8)
    cv2.fillPoly(mask, [points], 1)
    return data, mask.astype(bool)
