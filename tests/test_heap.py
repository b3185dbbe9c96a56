"""appsync.heap: bulk data is built with the cyclic collector paused and then frozen out of
its sight; the collector is running again afterwards, and reference counting still frees."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from appsync.heap import kept


class _Node:
    """A container the collector tracks (and weakref can follow)."""


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_collector_is_paused_in_the_block_and_running_after_it() -> None:
    assert gc.isenabled()
    with kept():
        assert not gc.isenabled()
        built = [_Node() for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(built)


def test_what_the_block_built_is_out_of_the_collectors_sight_but_still_freed() -> None:
    with kept():
        node = _Node()
    gone = weakref.ref(node)
    assert gc.is_tracked(node)
    assert all(o is not node for o in gc.get_objects())  # in no generation: never walked
    del node
    assert gone() is None  # reference counting freed it all the same


def test_an_inner_block_leaves_the_pause_to_the_outer_one() -> None:
    with kept():
        with kept():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_runs_again_when_the_block_raises() -> None:
    with pytest.raises(KeyError), kept():
        raise KeyError("x")
    assert gc.isenabled()


def test_only_the_exiting_cli_holds_what_a_command_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """hold() keeps values alive only when the CLI will exit without teardown; a library
    caller (or a test) frees them as usual."""
    from appsync import heap

    monkeypatch.setattr(heap, "_held", [])
    node = _Node()
    gone = weakref.ref(node)
    heap.hold(node)
    del node
    assert gone() is None and heap._held == []
    monkeypatch.setattr(heap, "holding", True)
    node = _Node()
    kept_alive = weakref.ref(node)
    heap.hold(node)
    del node
    assert kept_alive() is not None
