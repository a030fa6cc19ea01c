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
from engine.pipelines import ISNET_768, ISNET_768_INT8, U2NET_320, U2NET_320_INT8


def test_the_int8_unet_finds_the_same_subject_and_keeps_its_graph_apart(
    model_settings: Settings, tmp_path: Path, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    weights = model_settings.model_dir / U2NET_320.file
    if not weights.exists():
        pytest.skip("u2net not installed: run `make models`")
    (tmp_path / U2NET_320.file).symlink_to(weights)
    with Image.open(io.BytesIO(quokka[0])) as image:
        photo = np.asarray(image.convert("RGB"))
    full = ModelRunner.create(U2NET_320, tmp_path, threads=2).predict(photo)[0] >= 0.5
    small = ModelRunner.create(U2NET_320_INT8, tmp_path, threads=2).predict(photo)[0] >= 0.5
    assert (full & small).sum() / (full | small).sum() >= 0.95
    fp32 = optimized_model_path(tmp_path / U2NET_320.file, U2NET_320.asset.sha256)
    int8 = optimized_model_path(tmp_path / U2NET_320.file, U2NET_320.asset.sha256, U2NET_320_INT8.graph)
    assert fp32.exists() and int8.exists()
    assert int8.stat().st_size < fp32.stat().st_size / 2  # 8-bit weights, not the fp32 graph again


def test_the_int8_isnet_runs_at_the_tiers_side_and_finds_the_same_subject(
    model_settings: Settings, tmp_path: Path, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    """IS-Net's fp16 export, freed to 768² and quantised (professional and industry run it)."""
    weights = model_settings.model_dir / ISNET_768.file
    if not weights.exists():
        pytest.skip("isnet not installed: run `make models`")
    (tmp_path / ISNET_768.file).symlink_to(weights)
    with Image.open(io.BytesIO(quokka[0])) as image:
        photo = np.asarray(image.convert("RGB"))
    full = ModelRunner.create(ISNET_768, tmp_path, threads=2, mem_arena=False).predict(photo)[0]
    small = ModelRunner.create(ISNET_768_INT8, tmp_path, threads=2, mem_arena=False).predict(photo)[0]
    assert small.shape == full.shape == (768, 768)
    assert ((full >= 0.5) & (small >= 0.5)).sum() / ((full >= 0.5) | (small >= 0.5)).sum() >= 0.95
    cached = optimized_model_path(tmp_path / ISNET_768.file, ISNET_768.asset.sha256, ISNET_768_INT8.graph)
    assert cached.exists() and cached.name.startswith("isnet_fp16.resizable_int8.")
