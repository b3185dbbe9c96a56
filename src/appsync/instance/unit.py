"""A unit of work on a SQL platform: the store's object writes and appsync's own records,
on one connection inside one transaction (see :mod:`appsync.port`)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from appsync.instance.reader import BINDINGS_KEY
from appsync.instance.schema import AUDIT, HISTORY, META, SYNC_STATE, own_table
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
#: How many earlier values of each binding an instance remembers.
REMEMBERED = 20


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

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Writes that roll back alone on error, leaving the unit's transaction usable."""
        nested = self.connection.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            self.store.forget()
            raise
        nested.commit()

    def remember_bindings(self, values: Mapping[str, str]) -> None:
        """Record the binding values this apply wrote (newest first, a bounded list per
        name), so later reads recognise objects that still hold an earlier one."""
        table = own_table(META)
        query = select(table.c.value).where(table.c.key == BINDINGS_KEY)
        raw = self.connection.execute(query).scalar()
        try:
            known = json.loads(raw) if raw else {}
        except ValueError:
            known = {}
        if not isinstance(known, dict):
            known = {}
        for name, value in values.items():
            older = [v for v in known.get(name, []) if isinstance(v, str) and v != value]
            known[name] = [value, *older][:REMEMBERED]
        self.connection.execute(delete(table).where(table.c.key == BINDINGS_KEY))
        self.connection.execute(
            insert(table), [{"key": BINDINGS_KEY, "value": json.dumps(known, sort_keys=True)}]
        )
