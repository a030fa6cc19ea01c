"""Several basic images in one worker run side by side, one core each, instead of queueing for the one
model slot behind each other (two threads of one run at a time, which also stalled whenever the other
image's decode or PNG encode took a core from one of them): ``make bench-service``'s basic path."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from core.options import OutputOptions
from engine.inference import available_cores
from engine.pipeline import Engine
from tests.support.model_weights import require_tier


def test_two_basic_images_run_while_the_model_slot_is_taken(
    engine: Engine, quokka: tuple[bytes, NDArray[np.bool_]]
) -> None:
    require_tier(engine, "basic")
    if available_cores() < 2:
        pytest.skip("one core: nothing runs side by side")
    data, _ = quokka
    with ThreadPoolExecutor(2) as pool, engine.model_slots:  # another image holds the (only) model slot
        futures = [pool.submit(engine.remove, data, "basic", OutputOptions()) for _ in range(2)]
        done = [f.result(timeout=60) for f in futures]  # before: both waited for the slot, for ever
    assert all(cutout.data.startswith(b"\x89PNG") for cutout in done)
    assert done[0].data == done[1].data  # the one-thread session computes the same cut-out
    alone = engine.remove(data, "basic", OutputOptions())  # a lone image takes the wide session and the slot
    assert alone.foreground == done[0].foreground
