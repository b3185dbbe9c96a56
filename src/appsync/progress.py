"""Progress of long work: the core reports how far it is, the command line shows it.

The core never prints. Stages call :func:`report` (``reading``, ``comparing``, ``writing
files``, ``applying``); whoever runs the work installs a reporter with :func:`reporting` —
the CLI's shows a live line on a terminal and a line every few seconds in a CI log — and
without one, reporting costs next to nothing. Pure: no I/O here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol


class Reporter(Protocol):
    def update(self, stage: str, done: int, total: int | None) -> None: ...

    def finish(self) -> None: ...


_current: ContextVar[Reporter | None] = ContextVar("appsync_progress", default=None)


def report(stage: str, done: int, total: int | None = None) -> None:
    reporter = _current.get()
    if reporter is not None:
        reporter.update(stage, done, total)


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    token = _current.set(reporter)
    try:
        yield
    finally:
        _current.reset(token)
        reporter.finish()
