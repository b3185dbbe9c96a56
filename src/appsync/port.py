"""The port between the core and a platform's storage (DESIGN section 2a). Pure: protocols
only, so planning and applying never see a connection.

A platform offers a :class:`UnitOfWork` per transaction: read objects by key, write them
(create / update / delete, in the evaluator's order), and record appsync's own bookkeeping
(history, sync state, audit) in the same transaction. Planning only ever gets read-only
snapshots (:func:`appsync.instance.reader.read_snapshot`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from appsync.kinds import KindSpec
from appsync.model import Obj

Key = tuple[str, str]


class UnitOfWork(Protocol):
    """Writes of one transaction, counting rows touched per table."""

    @property
    def rows(self) -> Counter[str]: ...

    def read_keys(self, keys: Iterable[Key]) -> dict[Key, Obj]: ...

    def create(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None: ...

    def update(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None: ...

    def delete(self, spec: KindSpec, ids: Sequence[str]) -> None: ...

    def record(
        self,
        history: Sequence[Mapping[str, Any]],
        states: Sequence[Mapping[str, str]],
        forget: Sequence[Key],
    ) -> None: ...

    def audit(self, row: Mapping[str, Any]) -> None: ...

    def remember_bindings(self, values: Mapping[str, str]) -> None: ...

    def savepoint(self) -> AbstractContextManager[None]: ...
