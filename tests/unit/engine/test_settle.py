"""Disputed regions are decided from the photo's colours, not averaged into grey."""

from __future__ import annotations

import cv2
import numpy as np

from engine.refine import fuse
from engine.settle import SECOND_LOOK_GREY, grey_share, settle


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red subject (a square and a red 'arm' to its right) on a grey-blue background; one pass sees
    the arm, the other does not."""
    rgb = np.zeros((200, 300, 3), np.uint8)
    rgb[:] = (90, 110, 140)
    rgb[50:150, 50:150] = (200, 30, 30)
    rgb[80:120, 150:250] = (200, 30, 30)  # the arm
    rng = np.random.default_rng(0)
    rgb = np.clip(rgb.astype(int) + rng.integers(-12, 12, rgb.shape), 0, 255).astype(np.uint8)
    sees_arm = np.zeros((200, 300), np.float32)
    sees_arm[50:150, 50:150] = 1.0
    sees_arm[80:120, 150:250] = 0.9
    misses_arm = np.zeros((200, 300), np.float32)
    misses_arm[50:150, 50:150] = 1.0
    return rgb, sees_arm, misses_arm


def test_a_region_the_passes_dispute_is_decided_by_its_colour_not_left_grey() -> None:
    rgb, sees_arm, misses_arm = _scene()
    maps = [(sees_arm, 1.0), (misses_arm, 1.0)]
    averaged = fuse(maps)
    assert 0.4 < averaged[100, 200] < 0.5  # the mean leaves the arm half-transparent (and below 0.5)
    decided = settle(rgb, maps)
    assert decided.shape == (200, 300)
    assert decided[90:110, 160:240].min() == 1.0  # the arm is the subject's colour: subject
    assert decided[10:40, 10:290].max() == 0.0 and decided[160:, :].max() == 0.0
    grey = (decided > 0.15) & (decided < 0.85)
    assert grey.sum() == 0


def test_where_the_passes_agree_nothing_changes() -> None:
    rgb, sees_arm, _ = _scene()
    soft = sees_arm.copy()
    soft[49, 50:150] = 0.5  # a soft edge both passes agree on stays soft
    maps = [(soft, 1.0), (soft.copy(), 1.0)]
    assert np.allclose(settle(rgb, maps), fuse(maps), atol=1e-6)


def test_a_map_grey_across_a_region_counts_as_ghosted_and_soft_edges_do_not() -> None:
    yy, xx = np.mgrid[:320, :320]
    disc = (((yy - 160) ** 2 + (xx - 160) ** 2) < 100**2).astype(np.float32)
    clean = cv2.GaussianBlur(disc, (0, 0), 2)  # a soft edge all round, as fur or blur give
    assert grey_share(clean) < SECOND_LOOK_GREY / 4
    ghosted = clean.copy()
    ghosted[60:260, 60:140] *= 0.5  # the disc's left part half-transparent
    assert grey_share(ghosted) > SECOND_LOOK_GREY


def test_the_same_photo_is_settled_the_same_whatever_ran_before() -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8)  # colour noise: where
    sure = np.zeros((120, 160), np.float32)  # GrabCut's k-means starts decides some pixels
    sure[30:90, 40:120] = 1.0
    unsure = sure.copy()
    unsure[30:90, 80:120] = 0.3
    maps = [(sure, 1.0), (unsure, 1.0)]
    cv2.setRNGSeed(7)  # where another cut-out left this thread's random generator
    first = settle(rgb, maps)
    cv2.setRNGSeed(12345)
    assert np.array_equal(settle(rgb, maps), first)
