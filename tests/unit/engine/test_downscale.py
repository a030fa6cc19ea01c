"""Smaller copies through exact halvings: what the models and the guide see of a large photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from engine.downscale import AreaPyramid


def _photo_like(width: int, height: int, seed: int = 3) -> NDArray[np.uint8]:
    """Smooth colour fields with hard-edged shapes on them: both kinds of detail a photo has."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.ascontiguousarray(base, dtype=np.uint8)
    for _ in range(12):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(image, centre, int(rng.integers(10, height // 4)), colour, -1, lineType=cv2.LINE_AA)
    return image


@pytest.mark.parametrize(("width", "height"), [(1728, 1157), (1729, 1158), (4000, 3000), (3000, 700)])
@pytest.mark.parametrize("size", [(320, 320), (512, 343), (1024, 683)])
def test_a_large_photo_is_downscaled_to_what_one_area_resize_gives_within_a_grey_level(
    width: int, height: int, size: tuple[int, int]
) -> None:
    image = _photo_like(width, height)
    direct = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    through_halvings = AreaPyramid(image).resized(size)
    assert through_halvings.shape == (size[1], size[0], 3) and through_halvings.dtype == np.uint8
    difference = np.abs(through_halvings.astype(np.float32) - direct)
    assert difference.mean() < 1.0  # of 255: slightly softer edges, the same picture


@pytest.mark.parametrize(("width", "height"), [(800, 533), (500, 500), (200, 150)])
def test_a_photo_too_small_to_halve_is_resized_exactly_as_before(width: int, height: int) -> None:
    image = _photo_like(width, height)
    pyramid = AreaPyramid(image)
    for size in [(320, 320), (512, 341)]:
        interpolation = cv2.INTER_AREA if width > size[0] or height > size[1] else cv2.INTER_LINEAR
        assert np.array_equal(pyramid.resized(size), cv2.resize(image, size, interpolation=interpolation))


def test_the_halvings_are_made_once_for_every_size_asked() -> None:
    image = _photo_like(1728, 1157)
    pyramid = AreaPyramid(image)
    first = pyramid.resized((864, 578))  # exactly the first halving: no further resize
    pyramid.resized((320, 320))
    pyramid.resized((512, 343))
    assert pyramid.resized((864, 578)) is first
    assert pyramid.resized((1728, 1157)) is image
