"""How model runs share a worker's cores: light runs side by side, a heavy run alone and never starved."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.model_slots import ModelSlots

pytestmark = pytest.mark.unit


class Recorder:
    """Counts the holders inside at once, and who was inside with an exclusive holder."""

    def __init__(self, slots: ModelSlots) -> None:
        self.slots = slots
        self.inside = 0
        self.most_inside = 0
        self.shared_with_exclusive = 0
        self.order: list[str] = []
        self._lock = threading.Lock()

    def run(self, name: str, *, exclusive: bool, seconds: float) -> None:
        with self.slots.hold(exclusive=exclusive):
            with self._lock:
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
                self.order.append(name)
                if exclusive and self.inside > 1:
                    self.shared_with_exclusive += 1
            time.sleep(seconds)
            with self._lock:
                if exclusive and self.inside > 1:
                    self.shared_with_exclusive += 1
                self.inside -= 1


def test_light_runs_go_side_by_side_up_to_the_slots() -> None:
    recorder = Recorder(ModelSlots(2))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: recorder.run(f"light{i}", exclusive=False, seconds=0.05), range(4)))
    assert recorder.most_inside == 2


def test_an_exclusive_run_is_alone_and_light_runs_arriving_after_it_wait() -> None:
    recorder = Recorder(ModelSlots(2))
    with ThreadPoolExecutor(6) as pool:
        first = [pool.submit(recorder.run, f"light{i}", exclusive=False, seconds=0.2) for i in range(2)]
        time.sleep(0.05)  # both light runs are in
        heavy = pool.submit(recorder.run, "heavy", exclusive=True, seconds=0.05)
        time.sleep(0.05)  # the heavy run is waiting
        later = [pool.submit(recorder.run, f"later{i}", exclusive=False, seconds=0.05) for i in range(3)]
        for future in [*first, heavy, *later]:
            future.result(timeout=10)
    assert recorder.shared_with_exclusive == 0
    # a steady stream of light runs cannot keep the heavy one out: it goes before those that asked after it
    assert recorder.order.index("heavy") == 2, recorder.order


def test_exclusive_runs_queue_behind_each_other() -> None:
    recorder = Recorder(ModelSlots(3))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: recorder.run(f"heavy{i}", exclusive=True, seconds=0.02), range(4)))
    assert recorder.most_inside == 1 and recorder.shared_with_exclusive == 0
    assert recorder.slots.in_use == 0
