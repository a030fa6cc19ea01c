"""Bounded shutdown: a worker told to stop (SIGTERM, SIGINT) exits within ``WORKER_SHUTDOWN_GRACE_S``
plus :data:`HARD_EXIT_MARGIN_S`, whatever state it is in.

arq registers its handlers with ``loop.add_signal_handler``: they run inside the event loop, so they
only run when the loop does. A loop blocked in a write to a stderr pipe that nobody reads any more (a
parent that stopped reading, a stuck log shipper) never runs them, and arq's handler itself starts by
logging, so it blocks there too; every later signal just queues behind it. That is the hang seen once
in production (docs/observability.md, "Stopping a worker").

So the worker installs its own handlers with :func:`signal.signal`. Python runs those in the main
thread even while it is blocked in a system call (``write`` returns ``EINTR``, the handler runs, the
write is retried), and they do only two things, neither of which can block: arm ``alarm(2)`` for the
hard deadline, and hand arq's graceful stop to the loop with ``call_soon_threadsafe``. No logging in
the handler. When the alarm fires the kernel ends the process (``SIGALRM``'s default action), even if
Python is stuck in a lock, a C extension or its own finalisation.

A job the worker had not finished stays ``processing`` in PostgreSQL and in arq's queue; the sweep
(:func:`worker.sweeps.requeue_lost_jobs`) hands it to another worker once this one's heartbeat is
gone, and the job row decides, so nothing is charged twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from types import FrameType

from arq import Worker

HARD_EXIT_MARGIN_S = 3
"""Time after the grace period for arq's own shutdown (cancelling, the shutdown hook, closing Redis)."""

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class BoundedStop:
    """The signal handlers of a ``python -m worker`` process (tests that run a worker in their own loop
    pass ``handle_signals=False`` and do not use this)."""

    def __init__(self, worker: Worker, loop: asyncio.AbstractEventLoop, grace_s: float) -> None:
        self.worker = worker
        self.loop = loop
        self.deadline_s = max(1, math.ceil(grace_s) + HARD_EXIT_MARGIN_S)
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs between two bytecodes of whatever the main thread was doing, possibly inside a log write
        # holding the handler's lock: nothing here may log, wait or take a lock.
        if self.stopping:
            return  # a second signal changes nothing: the deadline already bounds the stop
        self.stopping = True
        signal.alarm(self.deadline_s)
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is on its way out anyway
            self.loop.call_soon_threadsafe(self.worker.handle_sig_wait_for_completion, signal.Signals(signum))
