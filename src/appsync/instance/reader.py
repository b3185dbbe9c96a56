"""Reading live state in bulk through the platform's store: one query per table, never one
per object. Secret columns are never selected, so secrets cannot leak into a model object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import select

from appsync.instance.connect import Instance, table_names, translate
from appsync.instance.schema import HISTORY, META, own_table
from appsync.instance.state import read_sync_state
from appsync.kinds import Registry
from appsync.model import HistoryEntry, Obj, SyncState
from appsync.secrets import to_tree


def read_objects(
    instance: Instance,
    registry: Registry,
    kinds: Iterable[str] | None = None,
) -> list[Obj]:
    """Every live object of the given kinds (all kinds by default), in apply order. Reads
    only the platform's tables: an instance appsync never applied to needs no adopting."""
    instance.platform.check(instance, state=False)
    with translate(instance.display), instance.engine.connect() as connection:
        objs = instance.platform.store(connection).read_all(kinds)
    return to_tree(registry, instance.bindings, objs)


def read_history(
    instance: Instance, registry: Registry
) -> dict[tuple[str, str], list[HistoryEntry]]:
    """The instance's own history entries per object, newest first (none on an instance
    appsync has not adopted)."""
    table = own_table(HISTORY)
    history: dict[tuple[str, str], list[HistoryEntry]] = {}
    if HISTORY not in table_names(instance):
        return history
    query = select(table.c.kind, table.c.id, table.c.rev, table.c.timestamp, table.c.origin)
    with translate(instance.display), instance.engine.connect() as connection:
        for row in connection.execute(query.order_by(table.c.seq.desc())):
            history.setdefault((row.kind, row.id), []).append(
                HistoryEntry(rev=row.rev, at=row.timestamp, origin=row.origin)
            )
    return history


def read_instance_id(instance: Instance, registry: Registry) -> str | None:
    """The id ``instance init`` (or ``adopt``) gave this instance: it tells instances apart
    whatever URL reaches them."""
    table = own_table(META)
    query = select(table.c.value).where(table.c.key == "instance_id")
    with translate(instance.display), instance.engine.connect() as connection:
        value = connection.execute(query).scalar()
    return str(value) if value is not None else None


BINDINGS_KEY = "bindings"


def read_recorded_bindings(instance: Instance) -> dict[str, tuple[str, ...]]:
    """The binding values earlier applies wrote to this instance, newest first."""
    if META not in table_names(instance):
        return {}
    table = own_table(META)
    query = select(table.c.value).where(table.c.key == BINDINGS_KEY)
    with translate(instance.display), instance.engine.connect() as connection:
        raw = connection.execute(query).scalar()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): tuple(str(v) for v in vs if isinstance(v, str))
        for k, vs in data.items()
        if isinstance(vs, list)
    }


def read_snapshot(
    instance: Instance, registry: Registry
) -> tuple[list[Obj], dict[tuple[str, str], SyncState]]:
    """Every live object and the sync state, read in one transaction (a consistent view)."""
    instance.platform.check(instance)
    with (
        translate(instance.display),
        instance.engine.connect() as connection,
        connection.begin(),
    ):
        objs = instance.platform.store(connection).read_all()
        states = read_sync_state(connection)
    return to_tree(registry, instance.bindings, objs), states
