"""appsync.heap: bulk data is built with the cyclic collector paused and, in a command of
the CLI, then frozen out of its sight; the collector is running again afterwards, and
reference counting still frees what was built."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from appsync import heap
from appsync.heap import kept


class _Node:
    """A container the collector tracks (and weakref can follow)."""


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As inside a command of the CLI (main sets it, and unfreezes at the end)."""
    monkeypatch.setattr(heap, "freezing", True)
    yield
    gc.unfreeze()


def test_the_collector_is_paused_in_the_block_and_running_after_it() -> None:
    assert gc.isenabled()
    with kept():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_in_a_command_what_the_block_built_is_out_of_sight_but_still_freed(cli: None) -> None:
    with kept():
        node = _Node()
    gone = weakref.ref(node)
    assert gc.is_tracked(node)
    assert all(o is not node for o in gc.get_objects())  # in no generation: never walked
    del node
    assert gone() is None  # reference counting freed it all the same


def test_a_library_caller_keeps_the_collector_over_what_it_built() -> None:
    """Outside the CLI nothing is frozen: a cycle that becomes garbage is still freed."""
    frozen = gc.get_freeze_count()
    with kept():
        node = _Node()
        node.self = node  # type: ignore[attr-defined]
    assert gc.get_freeze_count() == frozen
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


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


def test_a_command_of_the_cli_unfreezes_when_it_ends() -> None:
    from appsync.cli.main import main

    before = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(["--version"])
    assert gc.get_freeze_count() == before and not heap.freezing


def test_only_the_exiting_cli_holds_what_a_command_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """hold() keeps values alive only when the CLI will exit without teardown; a library
    caller (or a test) frees them as usual."""
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
