"""glibc's allocator, tuned per process: the API gives freed uploads back at once, a worker keeps image
buffers for its next job and gives them back when idle.

Both tune the same knob, glibc's mmap threshold (blocks above it get their own mapping, returned to the
system when freed), in opposite directions:

* **API** (:func:`return_freed_uploads_to_the_system`): glibc raises the threshold after the first large
  free (up to 32 MiB) and then serves uploads from the heap, where freed memory mostly stays in the
  process: ten 15 MB uploads freed before their waits still held +146 MB. A fixed 1 MiB threshold (which
  also stops the raising) keeps every body and image buffer in its own mapping.
* **Worker** (:func:`reuse_freed_buffers`, :func:`release_free_memory`): a 2 MP image passes through
  ~45 MB of short-lived buffers. Mapped or trimmed afresh for each job, they cost ~12 000 page faults:
  16–20 ms of kernel time per image, and decoding alone took twice as long as on warm memory (measured with
  the basic tier: 17 → 9 ms decode, 420 → 410 ms CPU per image). Buffers up to 32 MiB are therefore served
  from the heap and freed memory stays there while work goes on; it is handed back once no image is left
  in the engine, so an idle worker returns to its baseline.

Elsewhere than glibc (musl, macOS) every function here does nothing.
"""

from __future__ import annotations

import ctypes
import logging
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3
_UPLOAD_MMAP_THRESHOLD = 1024 * 1024
_WORKER_MMAP_THRESHOLD = 32 * 1024 * 1024
"""glibc's largest allowed value on 64-bit: a 4K image's float planes (~50 MB) still get mappings."""
_WORKER_TRIM_THRESHOLD = 1024 * 1024 * 1024
"""Never trim on free: only :func:`release_free_memory` gives memory back."""


@cache
def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return None


def return_freed_uploads_to_the_system(threshold: int = _UPLOAD_MMAP_THRESHOLD) -> None:
    """At API start: every upload-sized block in its own mapping, given back the moment it is freed."""
    libc = _libc()
    if libc is not None and not libc.mallopt(_M_MMAP_THRESHOLD, threshold):
        log.warning("could not set the allocator's mmap threshold; freed uploads may stay in RSS")


def reuse_freed_buffers() -> None:
    """At worker start: freed image buffers stay in the process for the next job."""
    libc = _libc()
    if libc is None:
        return
    if not (
        libc.mallopt(_M_MMAP_THRESHOLD, _WORKER_MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, _WORKER_TRIM_THRESHOLD)
    ):
        log.warning("could not tune the allocator; every job maps its image buffers afresh")


def release_free_memory() -> None:
    """Give freed buffers back to the system; without it a worker keeps the high-water mark of the
    largest images it has seen."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
