"""How one worker's model runs share its cores (``WORKER_CONCURRENCY``).

A light model (a 320² input: U²-Net-p, U²-Net) scales poorly across threads: on 2 cores a two-thread
U²-Net-p run cost 0.66 CPU s against 0.47 for one thread. So by default (``WORKER_CONCURRENCY`` unset or
``0``, "auto") light runs go side by side, one single-threaded run per core, while a heavy run (IS-Net at
768²) takes every core and runs alone: two of them side by side would hold twice its activations
(~0.6 GB each) and make each image twice as slow. With basic at 4 clients on 2 cores this served
1.43–1.65× rembg's images per second (≥ 1.5× in 8 runs of 10) against 1.29–1.42× for one two-thread run at
a time (docs/performance.md). A single image on an idle worker pays for it: its light runs use one core.
``WORKER_CONCURRENCY=N`` keeps the older rule: N runs of any model at once, cores ÷ N threads each.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.settings import Settings


@dataclass(frozen=True)
class RunPlan:
    slots: int
    """Model runs at once: a light run takes one slot, an exclusive run all of them."""
    light_threads: int
    """onnxruntime intra-op threads of a light model's session."""
    heavy_threads: int
    """Of a heavy model's session (and the portrait model's, which runs outside the slots)."""
    heavy_exclusive: bool
    """A heavy model's run takes every slot: it runs alone, on all its threads."""

    def threads(self, light: bool) -> int:
        """Intra-op threads of a light or a heavy model's session."""
        return self.light_threads if light else self.heavy_threads

    def exclusive(self, light: bool) -> bool:
        return self.heavy_exclusive and not light


def run_plan(settings: Settings, cores: int) -> RunPlan:
    cores = max(1, cores)
    if settings.worker_concurrency <= 0:  # auto
        heavy = settings.ort_intra_op_threads or cores
        return RunPlan(slots=cores, light_threads=1, heavy_threads=min(heavy, cores), heavy_exclusive=True)
    concurrency = settings.worker_concurrency
    budget = max(1, cores // concurrency)
    threads = min(settings.ort_intra_op_threads or budget, budget)
    return RunPlan(slots=concurrency, light_threads=threads, heavy_threads=threads, heavy_exclusive=False)


class ModelSlots:
    """The model runs going on in one worker process, bounded by :attr:`RunPlan.slots`.

    A waiting exclusive run goes before every light run that asks after it, so a steady stream of light
    images cannot keep a heavy one waiting for ever; light runs wait only while one is queued or running.
    """

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._free = self.slots
        self._exclusive_waiting = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, *, exclusive: bool = False) -> Iterator[None]:
        wanted = self.slots if exclusive else 1
        with self._changed:
            if exclusive:
                self._exclusive_waiting += 1
                try:
                    self._changed.wait_for(lambda: self._free == self.slots)
                finally:
                    self._exclusive_waiting -= 1
            else:
                self._changed.wait_for(lambda: self._free >= 1 and not self._exclusive_waiting)
            self._free -= wanted
        try:
            yield
        finally:
            with self._changed:
                self._free += wanted
                self._changed.notify_all()

    @property
    def in_use(self) -> int:
        with self._changed:
            return self.slots - self._free
