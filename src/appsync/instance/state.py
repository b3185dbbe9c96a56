"""appsync's own records on the instance: sync state, history and the audit log.

Reads are bulk; writes take an open connection so that they share the apply's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_

from appsync.instance.connect import Instance, translate
from appsync.instance.schema import AUDIT, HISTORY, SYNC_STATE, own_table
from appsync.instance.store import chunks
from appsync.kinds import Registry
from appsync.model import SyncState


def read_sync_state(connection: Connection) -> dict[tuple[str, str], SyncState]:
    table = own_table(SYNC_STATE)
    columns = (table.c.kind, table.c.id, table.c.desired_rev, table.c.applied_rev, table.c.origin)
    return {
        (kind, oid): SyncState(desired, applied, origin)
        for kind, oid, desired, applied, origin in connection.execute(select(*columns)).all()
    }


def write_sync_state(connection: Connection, rows: list[dict[str, str]]) -> None:
    """Upsert sync state rows (kind, id, desired_rev, applied_rev, origin, applied_at)."""
    if not rows:
        return
    table = own_table(SYNC_STATE)
    forget_sync_state(connection, [(r["kind"], r["id"]) for r in rows])
    connection.execute(insert(table), rows)


def forget_sync_state(connection: Connection, keys: Sequence[tuple[str, str]]) -> None:
    table = own_table(SYNC_STATE)
    for part in chunks(list(keys)):
        connection.execute(delete(table).where(tuple_(table.c.kind, table.c.id).in_(part)))


def write_history(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(own_table(HISTORY)), rows)


def write_audit(connection: Connection, row: dict[str, Any]) -> None:
    connection.execute(insert(own_table(AUDIT)), [row])


def read_audit(
    instance: Instance, registry: Registry, limit: int | None = None
) -> list[dict[str, Any]]:
    instance.platform.check(instance)
    table = own_table(AUDIT)
    query = select(table).order_by(table.c.seq.desc())
    if limit:
        query = query.limit(limit)
    with translate(instance.display), instance.engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        if isinstance(row.get("counts"), str):
            row["counts"] = json.loads(row["counts"])
    return rows


def read_object_history(
    instance: Instance, registry: Registry, object_id: str
) -> list[dict[str, Any]]:
    instance.platform.check(instance)
    table = own_table(HISTORY)
    query = (
        select(
            table.c.kind, table.c.id, table.c.rev, table.c.timestamp, table.c.actor, table.c.origin
        )
        .where(table.c.id == object_id)
        .order_by(table.c.seq.desc())
    )
    with translate(instance.display), instance.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def read_history_contents(
    instance: Instance, registry: Registry, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, str]]:
    """Stored content (JSON text) per rev of the given objects, from appsync_history."""
    table = own_table(HISTORY)
    found: dict[tuple[str, str], dict[str, str]] = {}
    if not keys:
        return found
    query = select(table.c.kind, table.c.id, table.c.rev, table.c.content)
    with translate(instance.display), instance.engine.connect() as connection:
        for part in chunks(list(keys)):
            rows = connection.execute(
                query.where(tuple_(table.c.kind, table.c.id).in_(part)).order_by(table.c.seq)
            )
            for row in rows:
                if row.content is not None:
                    found.setdefault((row.kind, row.id), {})[row.rev] = row.content
    return found
