"""The 8-bit U²-Net and IS-Net (engine/quantized_graph.py), built from the real weights and the committed ranges."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from core.settings import Settings
from engine.inference import ModelRunner, optimized_model_path
from engine.pipelines import ISNET_768, ISNET_768_INT8, U2NET_320, U2NET_320_INT8, ModelSpec


def _maps(
    full: ModelSpec, small: ModelSpec, settings: Settings, into: Path, photo_bytes: bytes
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Both specs' maps of the photo, from sessions built in ``into`` (the weights linked there)."""
    weights = settings.model_dir / full.file
    if not weights.exists():
        pytest.skip(f"{full.file} not installed: run `make models`")
    (into / full.file).symlink_to(weights)
    with Image.open(io.BytesIO(photo_bytes)) as image:
        photo = np.asarray(image.convert("RGB"))
    arena = full.input_size <= 320  # as the engine loads them
    first = ModelRunner.create(full, into, threads=2, mem_arena=arena).predict(photo)[0]
    return first, ModelRunner.create(small, into, threads=2, mem_arena=arena).predict(photo)[0]


def _overlap(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    return float(((a >= 0.5) & (b >= 0.5)).sum() / ((a >= 0.5) | (b >= 0.5)).sum())


def test_the_int8_unet_finds_the_same_subject_and_keeps_its_graph_apart(
    model_settings: Settings, tmp_path: Path, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    full, small = _maps(U2NET_320, U2NET_320_INT8, model_settings, tmp_path, quokka[0])
    assert _overlap(full, small) >= 0.95
    fp32 = optimized_model_path(tmp_path / U2NET_320.file, U2NET_320.asset.sha256)
    int8 = optimized_model_path(tmp_path / U2NET_320.file, U2NET_320.asset.sha256, U2NET_320_INT8.graph)
    assert fp32.exists() and int8.exists()
    assert int8.stat().st_size < fp32.stat().st_size / 2  # 8-bit weights, not the fp32 graph again


def test_the_int8_isnet_runs_at_the_tiers_side_and_finds_the_same_subject(
    model_settings: Settings, tmp_path: Path, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    """IS-Net's fp16 export, freed to 768² and quantised (professional and industry run it)."""
    full, small = _maps(ISNET_768, ISNET_768_INT8, model_settings, tmp_path, quokka[0])
    assert small.shape == full.shape == (768, 768)
    assert _overlap(full, small) >= 0.95
    cached = optimized_model_path(tmp_path / ISNET_768.file, ISNET_768.asset.sha256, ISNET_768_INT8.graph)
    assert cached.exists() and cached.name.startswith("isnet_fp16.resizable_int8.")
