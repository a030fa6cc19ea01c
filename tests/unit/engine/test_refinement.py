"""The post-processing maths on synthetic images with a known answer (no model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from engine.foreground import estimate_foreground
from engine.guided_filter import bilinear_at, guided_upsample
from engine.matting import closed_form_band, trimap_from_alpha
from engine.pipelines import PIPELINES as TIERS
from engine.refine import Frame, run_step
from tools.quality_metrics import score


def _soft_disc(size: int = 200, radius: float = 60, feather: float = 4.0) -> NDArray[np.float32]:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    dist = np.hypot(yy - size / 2, xx - size / 2)
    return np.asarray(np.clip((radius - dist) / feather + 0.5, 0, 1), dtype=np.float32)


def _composite(alpha: NDArray[np.float32], fg: tuple[int, int, int], bg: tuple[int, int, int]) -> NDArray[np.uint8]:
    rng = np.random.default_rng(1)
    f = np.array(fg, np.float32) + rng.normal(0, 3, (*alpha.shape, 3)).astype(np.float32)
    b = np.array(bg, np.float32) + rng.normal(0, 3, (*alpha.shape, 3)).astype(np.float32)
    out = f * alpha[:, :, None] + b * (1 - alpha[:, :, None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def test_bilinear_at_matches_cv2_resize() -> None:
    small = np.random.default_rng(0).random((13, 17, 3)).astype(np.float32)
    full = cv2.resize(small, (100, 77), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(np.ones((77, 100), bool))
    # cv2.remap interpolates with 5-bit fixed-point weights: within 1/32 of the neighbours' spread
    assert np.abs(bilinear_at(small, ys, xs, (100, 77)).reshape(77, 100, 3) - full).max() < 1 / 32


def test_guided_upsampling_snaps_a_coarse_mask_to_the_edges() -> None:
    truth = _soft_disc(feather=1.0)
    rgb = _composite(truth, (230, 40, 40), (30, 60, 200))
    small = np.asarray(cv2.resize(truth, (20, 20), interpolation=cv2.INTER_AREA), dtype=np.float32)
    coarse = np.asarray(cv2.resize(small, (200, 200)), dtype=np.float32)
    guided = guided_upsample(rgb, small, work_side=200, radius=4, eps=1e-4)
    assert guided.shape == truth.shape and guided.min() >= 0 and guided.max() <= 1
    before, after = score(coarse, truth), score(guided, truth)
    assert after.iou > before.iou and after.iou > 0.99
    assert after.grad < 0.7 * before.grad
    assert after.sad <= before.sad


def test_closed_form_matting_recovers_a_soft_edge() -> None:
    truth = _soft_disc(feather=6.0)
    rgb = _composite(truth, (220, 200, 40), (20, 40, 160))
    binary = (truth >= 0.5).astype(np.float32)  # what a segmentation model gives: no soft edge
    known_fg, unknown = trimap_from_alpha(binary, band=5)
    matte = closed_form_band(rgb.astype(np.float32) / np.float32(255), binary, known_fg, unknown)
    assert score(matte, truth).sad < 0.5 * score(binary, truth).sad
    assert np.array_equal(matte[~unknown & known_fg], np.ones(int((~unknown & known_fg).sum()), np.float32))


def test_trimap_band_width() -> None:
    alpha = np.zeros((50, 50), np.float32)
    alpha[:, 25:] = 1
    known_fg, unknown = trimap_from_alpha(alpha, band=3)
    assert unknown[25].sum() == 6  # 3 px either side of the edge
    assert known_fg[:, 28:].all() and not known_fg[:, :28].any()


def test_foreground_estimation_removes_background_colour() -> None:
    truth = _soft_disc(feather=4.0)
    rgb = _composite(truth, (240, 240, 240), (0, 0, 200))
    fg = estimate_foreground(rgb, truth)
    edge = (truth > 0.2) & (truth < 0.8)

    def blue_tint(img: NDArray[np.uint8]) -> float:
        return float(img[edge][:, 2].astype(float).mean() - img[edge][:, 0].astype(float).mean())

    assert blue_tint(rgb) > 90  # white subject, its soft edge mixed with the blue background
    assert blue_tint(fg) < 15
    assert np.array_equal(fg[truth == 1], rgb[truth == 1])


@pytest.mark.parametrize("tier", list(TIERS))
def test_tier_steps_produce_full_resolution_alpha(tier: str) -> None:
    truth = _soft_disc(size=300, radius=90, feather=2.0)
    rgb = _composite(truth, (220, 30, 30), (30, 30, 220))
    size = TIERS[tier].model.input_size
    frame = Frame(rgb=rgb, mask=np.asarray(cv2.resize(truth, (size, size), interpolation=cv2.INTER_AREA), np.float32))
    for step in TIERS[tier].steps:
        run_step(frame, step)
    alpha = frame.current_alpha()
    assert alpha.shape == (300, 300) and alpha.dtype == np.float32
    assert score(alpha, truth).iou > 0.97
    assert (frame.foreground is not None) == (tier == "industry")


class _PersonEverywhere:
    """Stands in for the portrait model: a person is the subject, and its matte is the whole frame."""

    def person_alpha(self, rgb: NDArray[np.uint8], alpha: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.ones(rgb.shape[:2], np.float32)

    def forced_alpha(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        return self.person_alpha(rgb, np.zeros(rgb.shape[:2], np.float32))


@pytest.mark.parametrize("subject_type", ["auto", "person"])
def test_the_portrait_matte_is_mixed_into_the_alpha_not_swapped_for_it(subject_type: str) -> None:
    """Industry's four passes are better on people's bodies, the portrait model on their hair: a matte that
    says "all person" moves the background only part of the way."""
    rgb = np.zeros((40, 60, 3), np.uint8)
    frame = Frame(rgb=rgb, mask=np.zeros((40, 60), np.float32), subject_type=subject_type)
    frame.alpha = np.zeros((40, 60), np.float32)
    frame.portrait = _PersonEverywhere()  # type: ignore[assignment]
    (step,) = [s for s in TIERS["industry"].steps if s.name == "portrait"]
    run_step(frame, step)
    assert np.allclose(frame.current_alpha(), step.params["weight"])
    assert 0 < step.params["weight"] < 1
    frame.subject_type = "product"  # the client said it is not a person: the step leaves the alpha alone
    frame.alpha = np.zeros((40, 60), np.float32)
    run_step(frame, step)
    assert not frame.current_alpha().any()
