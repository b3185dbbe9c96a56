"""The in-memory model shared by every stage: objects, their content, rev and history.

An :class:`Obj` is the same thing whether it came from a live instance, a work tree, a Git
commit or a package; the diff compares two of them without knowing where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: How many history entries an object file keeps (DESIGN section 3).
HISTORY_LIMIT = 50


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    rev: str
    at: str
    origin: str

    def to_json(self) -> dict[str, str]:
        return {"at": self.at, "origin": self.origin, "rev": self.rev}


@dataclass(frozen=True, slots=True)
class Obj:
    """One object of one kind. ``content`` holds every non-secret field by name, with text
    sidecars as ``str`` and binary sidecars as ``bytes``; ``rev`` is derived from it."""

    kind: str
    id: str
    content: dict[str, Any]
    rev: str
    history: tuple[HistoryEntry, ...] = ()
    name: str = ""
    app_id: str | None = None
    #: Where the object came from in a tree (``apps/x/ui/pages/home.json``), if it did.
    path: str | None = field(default=None, compare=False)
    #: For a live object: bindings it holds at a value an earlier apply wrote, not the
    #: environment's current one (:class:`appsync.bindings.Rebound`).
    rebound: tuple[Any, ...] = field(default=(), compare=False)
    #: Whether the content may hold a ``${binding:NAME}`` placeholder (``False`` only when
    #: it is known to hold none: found while its rev was computed).
    placeholders: bool = field(default=True, compare=False)
    #: ``(kind, id)``: how every stage indexes objects. Kept, not worked out on each use
    #: (a 100,000-object plan asks for it nearly a million times).
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.kind, self.id))

    def label(self) -> str:
        return f"{self.kind} {self.name or self.id}"


@dataclass(frozen=True, slots=True)
class SyncState:
    """What the target recorded when appsync last applied an object: the desired rev (S.d),
    the rev that produced on the target (S.a), and where it came from."""

    desired_rev: str
    applied_rev: str
    origin: str = ""
