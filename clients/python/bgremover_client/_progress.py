"""A dependency-free progress bar for the terminal (stderr): redrawn in place on a TTY, one line per
change otherwise (logs and CI)."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["ProgressBar", "render_bar"]


def render_bar(done: int, total: int, *, failed: int = 0, width: int = 30, label: str = "") -> str:
    """``label [#########---------]  3/10  30%  (1 failed)``; ``done`` is clamped to ``0..total``."""
    done = max(0, min(done, total))
    fraction = done / total if total > 0 else 1.0
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    digits = len(str(total))
    text = f"[{bar}] {done:>{digits}}/{total} {fraction:>4.0%}"
    if label:
        text = f"{label} {text}"
    if failed:
        text += f" ({failed} failed)"
    return text


class ProgressBar:
    """Shows ``done/total`` on ``stream``; call :meth:`update` as often as you like, then :meth:`close`."""

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        stream: TextIO | None = None,
        width: int = 30,
        interactive: bool | None = None,
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._last: tuple[int, int] | None = None

    def update(self, done: int, failed: int = 0) -> None:
        """Redraw when something changed."""
        if self._last == (done, failed):
            return
        self._last = (done, failed)
        line = render_bar(done, self.total, failed=failed, width=self.width, label=self.label)
        if self.interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line of an in-place bar."""
        if self.interactive and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()
