"""Fixtures of the engine's unit tests: every input is made in memory, no model is loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from core.settings import Settings
from engine.inference import ModelRunner
from engine.pipelines import PIPELINES
from tests.support.engine_images import DiscRunner, encode, subject_image


@pytest.fixture
def engine_settings(tmp_path: Path) -> Settings:
    """Default limits, with an empty model cache."""
    return replace(Settings(), model_dir=tmp_path / "models")


@pytest.fixture
def jpeg_bytes() -> bytes:
    return encode(Image.fromarray(subject_image()), "JPEG", quality=95)


@pytest.fixture
def make_png() -> Callable[..., bytes]:
    def build(img: Image.Image, **kwargs: object) -> bytes:
        return encode(img, "PNG", **kwargs)

    return build


@pytest.fixture
def disc_runners() -> dict[str, ModelRunner]:
    """Model file → stand-in runner, for every model of every tier."""
    runners: dict[str, ModelRunner] = {}
    for pipeline in PIPELINES.values():
        for model in pipeline.models:
            runners[model.key] = DiscRunner(model)  # type: ignore[assignment]
    return runners
