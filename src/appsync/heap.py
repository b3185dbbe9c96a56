"""Keeping the cyclic garbage collector off what a command builds to hold.

A plan or an export builds hundreds of thousands of dicts and lists — the parse cache, the
parsed tree, the target's rows — that hold no reference cycles and live until the command
ends. Reference counting frees them; the cyclic collector can find nothing among them, yet
each of its passes walks every one (a third of the time of loading the parse cache, about
a tenth of a whole no-op plan). :func:`kept` builds such data with the collector paused
and then freezes what was built out of its sight (:func:`gc.freeze`): later passes skip
it, and reference counting still frees it. Freezing is for a command of the CLI only
(:func:`command`, which :func:`appsync.cli.main.main` runs each command in, and which
unfreezes everything when the command ends): a library caller, or a test session, would
otherwise keep every cycle that later becomes garbage. The few cycles such a block makes
(a query's statement objects) are freed only then; work that makes and drops cycles in
proportion to its size (deepdiff's trees) runs with the collector as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Whether :func:`kept` freezes: only while a command of the CLI runs (:func:`command`).
freezing = False
#: The cyclic collector's thresholds during a command: a young collection every 100,000
#: allocations, an older one every 50 of those, a full one practically never.
COLLECT_EVERY = (100_000, 50, 1000)


@contextmanager
def command() -> Iterator[None]:
    """A command of the CLI. It builds its objects once and drops them at exit: with the
    default thresholds the cyclic collector would walk them again and again (a third of a
    100,000-object plan). What start-up made is frozen out of its sight, :func:`kept`
    freezes what the command builds, and the collector runs rarely, on young objects
    only: the cycles that die young (deepdiff's trees) are still freed. Everything is
    unfrozen, and the thresholds are as they were, when the command ends."""
    global freezing
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*COLLECT_EVERY)
    freezing = True
    try:
        yield
    finally:
        freezing = False
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@contextmanager
def kept() -> Iterator[None]:
    """Run the block with the cyclic collector paused; then, in a command of the CLI,
    freeze what exists, so that the long-lived objects the block built are never walked
    by it."""
    if not gc.isenabled():  # an outer block has paused it: that one freezes
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freezing:
            gc.freeze()
        gc.enable()


#: What a command built, held to the end of the process when the CLI exits without the
#: interpreter's teardown (:func:`appsync.cli.main.run` sets ``holding``): freeing it
#: object by object, as each function that built it returns, costs a tenth of a second
#: per 10,000 objects, and the operating system takes the memory back at exit at once.
#: Only what lives to the command's end anyway is held (its inputs and results, not a
#: cache or a copy used on the way: that would raise the peak). Library callers (and
#: tests) hold nothing: ``holding`` is off.
_held: list[object] = []
holding = False


def hold(value: object) -> None:
    """Keep ``value`` alive until the process exits, when the CLI is to exit at once."""
    if holding:
        _held.append(value)
