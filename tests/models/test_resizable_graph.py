"""The exports' upsampling rewritten (engine/resizable_graph.py), on the real weights: IS-Net at the side the
tiers use, U²-Net-p in half-pixel coordinates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from core.settings import Settings
from engine.inference import ModelRunner, optimized_model_path, session_options
from engine.pipelines import ISNET_768, PIPELINES, U2NETP_320
from engine.resizable_graph import NotResizable, free_input_size, half_pixel_resizes


def _weights(settings: Settings, file: str) -> Path:
    path = settings.model_dir / file
    if not path.exists():
        pytest.skip(f"{file} not installed: run `make models`")
    return path


def test_at_its_exported_side_the_rewritten_isnet_gives_the_shipped_map(model_settings: Settings) -> None:
    path = _weights(model_settings, ISNET_768.file)
    tensor = np.random.default_rng(5).standard_normal((1, 3, 1024, 1024), dtype=np.float32) * 0.5
    shipped = ort.InferenceSession(str(path), session_options(2, mem_arena=False), providers=["CPUExecutionProvider"])
    rewritten = ort.InferenceSession(
        free_input_size(path.read_bytes()), session_options(2, mem_arena=False), providers=["CPUExecutionProvider"]
    )
    a = shipped.run(["output"], {"input": tensor})[0]
    b = rewritten.run(["output"], {"input": tensor})[0]
    assert a.shape == b.shape == (1, 1, 1024, 1024)
    assert np.abs(a - b).max() < 1e-3


def test_the_tiers_isnet_runs_at_768_and_keeps_its_optimised_graph_apart(
    model_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / ISNET_768.file).symlink_to(_weights(model_settings, ISNET_768.file))
    runner = ModelRunner.create(ISNET_768, tmp_path, threads=2, mem_arena=False)
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (600, 900, 3), dtype=np.uint8)
    mask, _ = runner.predict(photo)
    assert mask.shape == (768, 768)
    # the rewritten graph is cached under its own name: the export as shipped could be loaded beside it
    cached = optimized_model_path(tmp_path / ISNET_768.file, ISNET_768.asset.sha256, ISNET_768.graph)
    assert cached.exists()
    assert not optimized_model_path(tmp_path / ISNET_768.file, ISNET_768.asset.sha256).exists()
    again = ModelRunner.create(ISNET_768, tmp_path, threads=2, mem_arena=False)
    assert np.allclose(again.predict(photo)[0], mask, atol=1e-4)
    smaller = ModelRunner(dataclasses.replace(ISNET_768, input_size=512), again.session, again.path)
    assert smaller.predict(photo)[0].shape == (512, 512)


def test_a_graph_without_constant_size_resizes_is_refused(model_settings: Settings) -> None:
    with pytest.raises(NotResizable):
        free_input_size(_weights(model_settings, U2NETP_320.file).read_bytes())


def test_u2netp_in_half_pixel_coordinates_gives_the_shipped_map(model_settings: Settings) -> None:
    path = _weights(model_settings, U2NETP_320.file)
    tensor = np.random.default_rng(7).standard_normal((1, 3, 320, 320), dtype=np.float32) * 0.5
    shipped = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
    rewritten = ort.InferenceSession(
        half_pixel_resizes(path.read_bytes()), session_options(1), providers=["CPUExecutionProvider"]
    )
    a = shipped.run(["1959"], {"input.1": tensor})[0]
    b = rewritten.run(["1959"], {"input.1": tensor})[0]
    assert np.abs(a - b).max() < 1e-4


def test_the_tiers_u2netp_is_the_half_pixel_graph_cached_apart(model_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / U2NETP_320.file).symlink_to(_weights(model_settings, U2NETP_320.file))
    assert U2NETP_320.graph == "half_pixel"
    runner = ModelRunner.create(U2NETP_320, tmp_path, threads=1)
    assert optimized_model_path(tmp_path / U2NETP_320.file, U2NETP_320.asset.sha256, "half_pixel").exists()
    assert not optimized_model_path(tmp_path / U2NETP_320.file, U2NETP_320.asset.sha256).exists()
    tensor = np.random.default_rng(8).standard_normal((1, 3, 320, 320), dtype=np.float32) * 0.5
    shipped = ort.InferenceSession(str(tmp_path / U2NETP_320.file), providers=["CPUExecutionProvider"])
    assert np.abs(runner.run(tensor) - shipped.run(["1959"], {"input.1": tensor})[0][0, 0]).max() < 1e-4


def test_a_graph_without_pytorch_half_pixel_resizes_is_refused(model_settings: Settings) -> None:
    with pytest.raises(NotResizable):
        half_pixel_resizes(free_input_size(_weights(model_settings, ISNET_768.file).read_bytes()))


def test_every_graph_runs_at_one_side_across_the_tiers() -> None:
    """The engine keeps one session per weights file and graph, fed at its spec's side: two sides would need two."""
    sides: dict[str, set[int]] = {}
    for pipeline in PIPELINES.values():
        for model in pipeline.models:
            sides.setdefault(model.key, set()).add(model.input_size)
    assert all(len(s) == 1 for s in sides.values()), sides
