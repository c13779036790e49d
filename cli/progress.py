"""A plain-text progress bar on stderr for long commands (no dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``label [#####.....]  52%  523,000/1,000,000 leaves  12.3 s``, redrawn at most 5x/s.

    On a terminal it redraws one line; otherwise (logs, CI) it prints a line per 10%.
    """

    def __init__(self, label: str, total: int, unit: str, stream: TextIO | None = None) -> None:
        self.label, self.total, self.unit = label, max(total, 0), unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = self._drawn = time.monotonic()
        self._decile = -1

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        decile = done * 10 // self.total if self.total else 10
        if self.tty and now - self._drawn < 0.2 and done != self.total:
            return
        if not self.tty and decile == self._decile:
            return
        self._drawn, self._decile = now, decile
        self.stream.write(self._line(done) + ("\r" if self.tty else "\n"))
        self.stream.flush()

    def _line(self, done: int) -> str:
        share = min(done / self.total, 1.0) if self.total else 1.0
        bar = "#" * int(share * 30)
        return (
            f"{self.label} [{bar:.<30}] {share:4.0%}  {done:,}/{self.total:,} {self.unit}  "
            f"{time.monotonic() - self.started:.1f} s"
        )

    def finish(self, done: int) -> None:
        if self.tty:
            self.stream.write(self._line(done) + "\n")
            self.stream.flush()
