from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from core.errors import NoSubjectDetected
from core.options import OutputOptions
from core.settings import Settings
from core.tiers import TIERS
from engine.inference import ModelRunner, available_cores, optimized_model_path
from engine.pipeline import Engine
from engine.pipelines import U2NETP_320
from tests.support.model_weights import require_tier


def _rgba(data: bytes) -> NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGBA"))


def _png(rgb: NDArray[np.uint8]) -> bytes:
    ok, buf = cv2.imencode(".png", rgb[:, :, ::-1])
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("tier", list(TIERS))
def test_quokka_iou_at_least_0_9(tier: str, engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]) -> None:
    require_tier(engine, tier)
    data, truth = quokka
    cut = engine.remove(data, tier, OutputOptions())
    alpha = _rgba(cut.data)[:, :, 3]
    assert alpha.shape == truth.shape
    assert (cut.width, cut.height) == (truth.shape[1], truth.shape[0])
    pred = alpha >= 128
    iou = (pred & truth).sum() / (pred | truth).sum()
    assert iou >= 0.9, f"{tier}: IoU {iou:.3f}"


def test_industry_alpha_is_soft_and_colours_decontaminated(
    engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    require_tier(engine, "industry")
    data, _ = quokka
    rgba = _rgba(engine.remove(data, "industry", OutputOptions()).data)
    alpha = rgba[:, :, 3]
    assert ((alpha > 10) & (alpha < 245)).sum() > 500  # a real matte, not a binary mask
    original = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    soft = (alpha > 10) & (alpha < 245)
    assert np.abs(rgba[:, :, :3][soft].astype(int) - original[soft]).mean() > 1  # colours were re-estimated
    solid = alpha == 255
    assert np.array_equal(rgba[:, :, :3][solid], original[solid])


@pytest.mark.parametrize("tier", list(TIERS))
def test_blank_image_is_no_subject(tier: str, engine: Engine) -> None:
    require_tier(engine, tier)
    with pytest.raises(NoSubjectDetected):
        engine.remove(_png(np.full((300, 400, 3), 255, np.uint8)), tier, OutputOptions())


@pytest.mark.parametrize(
    ("params", "mode", "media_type"),
    [
        ({}, "RGBA", "image/png"),
        ({"format": "webp"}, "RGBA", "image/webp"),
        ({"format": "jpg"}, "RGB", "image/jpeg"),
        ({"format": "jpg", "bg_color": "#336699"}, "RGB", "image/jpeg"),
        ({"channels": "alpha"}, "L", "image/png"),
        ({"bg_color": "#00ff0080"}, "RGBA", "image/png"),
        ({"bg_color": "#fff"}, "RGB", "image/png"),
    ],
)
def test_output_options(
    params: dict[str, str], mode: str, media_type: str, engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    require_tier(engine, "basic")
    data, truth = quokka
    cut = engine.remove(data, "basic", OutputOptions.from_params(params))
    with Image.open(io.BytesIO(cut.data)) as img:
        assert img.mode == mode
        assert img.size == (truth.shape[1], truth.shape[0]) == (cut.width, cut.height)
    assert cut.media_type == media_type
    assert (cut.input_format, cut.input_width, cut.input_height) == ("jpeg", truth.shape[1], truth.shape[0])


def test_bg_color_fills_the_background(engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]) -> None:
    require_tier(engine, "basic")
    data, truth = quokka
    cut = engine.remove(data, "basic", OutputOptions.from_params({"bg_color": "#ff00ff"}))
    rgb = np.asarray(Image.open(io.BytesIO(cut.data)))
    far = ~cv2.dilate(truth.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    assert (np.abs(rgb[far].astype(int) - [255, 0, 255]).max(axis=1) <= 2).mean() > 0.95


def test_crop_with_margin_and_size(engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]) -> None:
    require_tier(engine, "basic")
    data, truth = quokka
    ys, xs = np.nonzero(truth)
    subject_w, subject_h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    tight = engine.remove(data, "basic", OutputOptions.from_params({"crop": "true"}))
    assert abs(tight.width - subject_w) < 0.1 * subject_w and abs(tight.height - subject_h) < 0.1 * subject_h
    margin = engine.remove(data, "basic", OutputOptions.from_params({"crop": "true", "crop_margin": "20"}))
    assert margin.width > tight.width and margin.height > tight.height
    assert margin.width <= tight.width + 40 and margin.height <= tight.height + 40
    sized = engine.remove(data, "basic", OutputOptions.from_params({"crop": "true", "size": "200"}))
    assert max(sized.width, sized.height) == 200
    with Image.open(io.BytesIO(sized.data)) as img:
        assert img.size == (sized.width, sized.height)


def test_memory_does_not_grow_per_image(engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]) -> None:
    require_tier(engine, "basic")
    data, _ = quokka

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    for _ in range(5):
        engine.remove(data, "basic", OutputOptions())
    before = rss_mb()
    for _ in range(40):
        engine.remove(data, "basic", OutputOptions())
    assert rss_mb() - before < 40


def test_the_optimised_graph_is_kept_beside_the_weights_and_gives_the_same_mask(
    model_settings: Settings, tmp_path: Path
) -> None:
    weights = model_settings.model_dir / U2NETP_320.file
    if not weights.exists():
        pytest.skip("u2netp not installed: run `make models`")
    (tmp_path / U2NETP_320.file).symlink_to(weights)
    tensor = np.random.default_rng(3).standard_normal((1, 3, 320, 320), dtype=np.float32)
    first = ModelRunner.create(U2NETP_320, tmp_path, threads=1)
    cached = optimized_model_path(tmp_path / U2NETP_320.file, U2NETP_320.asset.sha256, U2NETP_320.graph)
    assert cached.exists() and not list(tmp_path.glob("*.partial"))
    again = ModelRunner.create(U2NETP_320, tmp_path, threads=1)  # from the cached graph
    assert np.allclose(first.run(tensor), again.run(tensor), atol=1e-5)
    cached.write_bytes(b"damaged")  # a broken cache file is optimised afresh, never fatal
    repaired = ModelRunner.create(U2NETP_320, tmp_path, threads=1)
    assert np.allclose(first.run(tensor), repaired.run(tensor), atol=1e-5)
    assert cached.stat().st_size > 1000


def test_light_models_run_on_one_thread_side_by_side_and_heavy_ones_alone_on_every_core(engine: Engine) -> None:
    if engine.settings.worker_concurrency > 0:
        pytest.skip("WORKER_CONCURRENCY is set: every run gets cores ÷ N threads")
    cores = available_cores()
    assert engine.model_slots.slots == cores
    for runner in engine.runners.values():
        threads = runner.session.get_session_options().intra_op_num_threads
        assert threads == (1 if runner.spec.light else engine.plan.heavy_threads), runner.spec.key
        assert engine.plan.exclusive(runner.spec.light) == (not runner.spec.light)
