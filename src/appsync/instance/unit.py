"""A unit of work on a SQL platform: the store's object writes and appsync's own records,
on one connection inside one transaction (see :mod:`appsync.port`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from appsync.instance.schema import AUDIT, HISTORY, SYNC_STATE
from appsync.instance.state import (
    forget_sync_state,
    write_audit,
    write_history,
    write_sync_state,
)
from appsync.instance.store import SqlStore
from appsync.kinds import KindSpec
from appsync.model import Obj

Key = tuple[str, str]


class SqlUnitOfWork:
    def __init__(self, connection: Connection, store: SqlStore) -> None:
        self.connection = connection
        self.store = store

    @property
    def rows(self) -> Counter[str]:
        return self.store.rows

    def read_keys(self, keys: Iterable[Key]) -> dict[Key, Obj]:
        return self.store.read_keys(keys)

    def create(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        self.store.create(spec, contents)

    def update(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        self.store.update(spec, contents)

    def delete(self, spec: KindSpec, ids: Sequence[str]) -> None:
        self.store.delete(spec, ids)

    def record(
        self,
        history: Sequence[Mapping[str, Any]],
        states: Sequence[Mapping[str, str]],
        forget: Sequence[Key],
    ) -> None:
        forget_sync_state(self.connection, list(forget))
        write_sync_state(self.connection, [dict(s) for s in states])
        write_history(self.connection, [dict(h) for h in history])
        self.rows[SYNC_STATE] += len(states) + len(forget)
        self.rows[HISTORY] += len(history)

    def audit(self, row: Mapping[str, Any]) -> None:
        write_audit(self.connection, dict(row))
        self.rows[AUDIT] += 1
