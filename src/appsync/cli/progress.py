"""Showing progress: a line that updates in place on a terminal (counts and elapsed time),
and in a log (CI) a line every few seconds, so long work is never silent."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def log_interval() -> float:
    """Seconds between progress lines when stderr is not a terminal (a CI log)."""
    try:
        return float(os.environ.get("APPSYNC_PROGRESS_INTERVAL", "5"))
    except ValueError:
        return 5.0


#: Seconds between redraws on a terminal.
TTY_INTERVAL = 0.1
#: Work shorter than this shows no progress at all.
QUIET_FOR = 0.5


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.started = time.monotonic()
        self.last = self.started
        self.interval = log_interval()
        self.drawn = 0  # the width of the line on the terminal (0: none drawn)

    def _line(self, stage: str, done: int, total: int | None) -> str:
        elapsed = time.monotonic() - self.started
        count = f"{done:,}/{total:,}" if total else f"{done:,}"
        return f"{stage}: {count} ({elapsed:.1f} s)"

    def update(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.started < min(QUIET_FOR, self.interval):
            return
        if self.tty:
            if now - self.last >= TTY_INTERVAL or (total and done >= total):
                line = self._line(stage, done, total)
                self.stream.write("\r" + line.ljust(self.drawn))
                self.stream.flush()
                self.last, self.drawn = now, max(self.drawn, len(line))
        elif now - self.last >= self.interval:
            self.stream.write(self._line(stage, done, total) + "\n")
            self.stream.flush()
            self.last = now

    def finish(self) -> None:
        if self.tty and self.drawn:
            # Spaces over the line rather than an erase sequence: no control code but
            # the carriage return reaches a terminal (nor NO_COLOR's users).
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
