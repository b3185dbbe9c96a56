"""Reading live state in bulk: one query per table, never one per object.

The reader never selects secret columns, so secrets cannot leak into a model object.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from appsync.canonical.revs import make_obj
from appsync.instance.connect import Instance, require_schema, translate
from appsync.instance.schema import HISTORY, META, build_metadata
from appsync.instance.state import read_sync_state
from appsync.kinds import KindSpec, Registry
from appsync.model import HistoryEntry, Obj, SyncState


def _row_content(spec: KindSpec, row: Any) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for field in spec.content_fields:
        value = getattr(row, field.name)
        if field.type == "bytes" and value is not None:
            value = bytes(value)
        content[field.name] = value
    return content


def read_kind(connection: Connection, registry: Registry, spec: KindSpec) -> list[Obj]:
    table = build_metadata(registry).tables[spec.table]
    columns = [table.c[f.name] for f in spec.content_fields]
    rows = connection.execute(select(*columns).order_by(table.c.id))
    return [make_obj(spec, _row_content(spec, row)) for row in rows]


def read_objects(
    instance: Instance,
    registry: Registry,
    kinds: Iterable[str] | None = None,
) -> list[Obj]:
    """Every live object of the given kinds (all kinds by default), in apply order."""
    require_schema(instance, registry)
    wanted = set(kinds) if kinds is not None else set(registry.names)
    objs: list[Obj] = []
    with translate(instance.display), instance.engine.connect() as connection:
        for spec in registry:
            if spec.kind in wanted:
                objs.extend(read_kind(connection, registry, spec))
    return instance.bindings.unbind(registry, objs)


def read_history(
    instance: Instance, registry: Registry
) -> dict[tuple[str, str], list[HistoryEntry]]:
    """The instance's own history entries per object, newest first."""
    table = build_metadata(registry).tables[HISTORY]
    history: dict[tuple[str, str], list[HistoryEntry]] = {}
    query = select(table.c.kind, table.c.id, table.c.rev, table.c.timestamp, table.c.origin)
    with translate(instance.display), instance.engine.connect() as connection:
        for row in connection.execute(query.order_by(table.c.seq.desc())):
            history.setdefault((row.kind, row.id), []).append(
                HistoryEntry(rev=row.rev, at=row.timestamp, origin=row.origin)
            )
    return history


def read_instance_id(instance: Instance, registry: Registry) -> str | None:
    """The id ``instance init`` gave this instance: it tells instances apart whatever
    URL reaches them."""
    table = build_metadata(registry).tables[META]
    query = select(table.c.value).where(table.c.key == "instance_id")
    with translate(instance.display), instance.engine.connect() as connection:
        value = connection.execute(query).scalar()
    return str(value) if value is not None else None


def read_snapshot(
    instance: Instance, registry: Registry
) -> tuple[list[Obj], dict[tuple[str, str], SyncState]]:
    """Every live object and the sync state, read in one transaction (a consistent view)."""
    require_schema(instance, registry)
    objs: list[Obj] = []
    with (
        translate(instance.display),
        instance.engine.connect() as connection,
        connection.begin(),
    ):
        for spec in registry:
            objs.extend(read_kind(connection, registry, spec))
        states = read_sync_state(connection, registry)
    return instance.bindings.unbind(registry, objs), states
