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
