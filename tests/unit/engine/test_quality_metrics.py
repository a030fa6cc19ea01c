from __future__ import annotations

import numpy as np
import pytest

from tools.quality_metrics import score


def test_perfect_prediction() -> None:
    truth = np.zeros((40, 40), np.float32)
    truth[10:30, 10:30] = 1
    s = score(truth, truth)
    assert (s.iou, s.mae, s.sad, s.grad) == (1.0, 0.0, 0.0, 0.0)


def test_known_errors() -> None:
    truth = np.zeros((40, 40), np.float32)
    truth[:, :20] = 1
    pred = np.zeros_like(truth)
    pred[:, :10] = 1
    s = score(pred, truth)
    assert s.iou == pytest.approx(0.5)
    assert s.mae == pytest.approx(0.25)
    assert s.sad == pytest.approx(400 / 1000)
    assert s.grad > 0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        score(np.zeros((2, 2), np.float32), np.zeros((3, 3), np.float32))


def test_ghosting_counts_grey_far_from_the_edge_not_soft_edges() -> None:
    from tools.real_photos import ghosting, kind_of

    truth = np.zeros((100, 100), np.float32)
    truth[20:80, 20:80] = 1.0
    assert ghosting(truth.copy(), truth) == 0.0
    soft_edge = truth.copy()
    soft_edge[18:22, 20:80] = 0.5  # within 10 px of the true edge: a soft edge, not ghosting
    assert ghosting(soft_edge, truth) == 0.0
    grey_inside = truth.copy()
    grey_inside[40:60, 40:60] = 0.5  # the middle of the subject came out half-transparent
    clear = ghosting(grey_inside, truth)
    assert 0.07 < clear < 0.09  # 400 grey pixels of about 5,000 clear ones far from the edge
    assert kind_of("fur") == "plants and fur" and kind_of("hair") == "people"
