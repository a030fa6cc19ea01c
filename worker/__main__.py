"""``python -m worker [--burst]``: run a worker until SIGINT/SIGTERM (or until the queue is empty)."""

from __future__ import annotations

import argparse
import os
import sys

from core.allocator import reuse_freed_buffers
from core.logs import configure as configure_logging
from core.settings import get_settings
from worker.runner import create_worker
from worker.stopping import BoundedStop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_format)
    reuse_freed_buffers()
    if settings.worker_nice > 0:
        os.nice(settings.worker_nice)
    # our handlers instead of arq's: they bound the stop even when the event loop is blocked
    worker = create_worker(settings, burst=args.burst, handle_signals=False)
    BoundedStop(worker, worker.loop, settings.shutdown_grace_s).install()
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
