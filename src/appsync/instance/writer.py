"""Writing objects to the live instance inside a caller's transaction.

Only content columns are ever written: secret columns (``password_hash``, ``credentials``)
keep their value on update and stay NULL on create. Reads of touched objects are bulk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from appsync.bindings import Bindings
from appsync.canonical.revs import make_obj
from appsync.instance.reader import _row_content
from appsync.instance.schema import build_metadata
from appsync.instance.state import chunks
from appsync.kinds import KindSpec, Registry
from appsync.model import Obj


class Writer:
    """Object writes on one connection, counting rows touched per table."""

    def __init__(
        self, connection: Connection, registry: Registry, bindings: Bindings | None = None
    ) -> None:
        self.connection = connection
        self.registry = registry
        self.bindings = bindings or Bindings()
        self.metadata = build_metadata(registry)
        self.rows: Counter[str] = Counter()

    def count(self, table: str, n: int) -> None:
        self.rows[table] += max(n, 0)

    def create(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if not contents:
            return
        table = self.metadata.tables[spec.table]
        contents = [self.bindings.bind_content(dict(c)) for c in contents]
        rows = [{f.name: c.get(f.name) for f in spec.content_fields} for c in contents]
        self.connection.execute(insert(table), rows)
        self.count(spec.table, len(rows))

    def update(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if not contents:
            return
        table = self.metadata.tables[spec.table]
        contents = [self.bindings.bind_content(dict(c)) for c in contents]
        names = [f.name for f in spec.content_fields if f.name != "id"]
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({n: bindparam(f"_v_{n}") for n in names})
        )
        params = [{"_id": c["id"], **{f"_v_{n}": c.get(n) for n in names}} for c in contents]
        result = self.connection.execute(statement, params)
        self.count(spec.table, result.rowcount if result.rowcount >= 0 else len(params))

    def delete(self, spec: KindSpec, ids: Sequence[str]) -> None:
        table = self.metadata.tables[spec.table]
        for part in chunks(list(ids)):
            result = self.connection.execute(delete(table).where(table.c.id.in_(part)))
            self.count(spec.table, result.rowcount)


def read_by_keys(
    connection: Connection, registry: Registry, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Obj]:
    """The live objects with these keys, one query per kind (and per 500 ids)."""
    by_kind: dict[str, list[str]] = {}
    for kind, oid in keys:
        by_kind.setdefault(kind, []).append(oid)
    metadata = build_metadata(registry)
    found: dict[tuple[str, str], Obj] = {}
    for kind, ids in by_kind.items():
        spec = registry.get(kind)
        table = metadata.tables[spec.table]
        columns = [table.c[f.name] for f in spec.content_fields]
        for part in chunks(sorted(set(ids))):
            for row in connection.execute(select(*columns).where(table.c.id.in_(part))):
                obj = make_obj(spec, _row_content(spec, row))
                found[obj.key] = obj
    return found
