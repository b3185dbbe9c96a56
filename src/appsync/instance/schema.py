"""appsync's own bookkeeping tables, and the reference platform's schema (DESIGN section 2)
as ``instance init`` creates it from the reference manifests."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from appsync.instance.mapping import native_type
from appsync.kinds import KindSpec, Registry

HISTORY = "appsync_history"
SYNC_STATE = "appsync_sync_state"
AUDIT = "appsync_audit"
LOCK = "appsync_lock"
META = "appsync_meta"
OWN_TABLES = (HISTORY, SYNC_STATE, AUDIT, LOCK, META)

#: Version of appsync's own tables (and of the reference schema) this appsync reads.
SCHEMA_VERSION = "1"


def _own_tables(metadata: MetaData) -> None:
    Table(
        HISTORY,
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(), nullable=False),
        Column("id", String(36), nullable=False),
        Column("rev", String(), nullable=False),
        Column("timestamp", String(), nullable=False),
        Column("actor", String(), nullable=False),
        Column("origin", String(), nullable=False),
        Column("content", Text()),
        Index("ix_appsync_history_object", "kind", "id"),
    )
    Table(
        SYNC_STATE,
        metadata,
        Column("kind", String(), primary_key=True),
        Column("id", String(36), primary_key=True),
        Column("desired_rev", String(), nullable=False),
        Column("applied_rev", String(), nullable=False),
        Column("origin", String(), nullable=False),
        Column("applied_at", String(), nullable=False),
    )
    Table(
        AUDIT,
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("timestamp", String(), nullable=False),
        Column("actor", String(), nullable=False),
        Column("host", String(), nullable=False),
        Column("command", String(), nullable=False),
        Column("origin", String(), nullable=False),
        Column("commit", String()),
        Column("status", String(), nullable=False),
        Column("counts", JSON(none_as_null=True)),
        Column("duration_ms", Integer, nullable=False),
    )
    Table(
        LOCK,
        metadata,
        Column("name", String(), primary_key=True),
        Column("holder", String(), nullable=False),
        Column("host", String(), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("command", String(), nullable=False),
        Column("acquired_at", String(), nullable=False),
    )
    Table(
        META,
        metadata,
        Column("key", String(), primary_key=True),
        Column("value", String(), nullable=False),
    )


@functools.cache
def own_metadata() -> MetaData:
    """appsync's own tables, the same on every platform."""
    metadata = MetaData()
    _own_tables(metadata)
    return metadata


def own_table(name: str) -> Table:
    return own_metadata().tables[name]


def _kind_table(metadata: MetaData, spec: KindSpec) -> Table:
    columns: list[Column[Any]] = [
        Column(
            spec.column_of(f.name),
            native_type(f.type),
            primary_key=f.name == "id",
            nullable=f.name != "id",
        )
        for f in spec.content_fields
    ]
    columns += [Column(name, native_type(t)) for name, t in spec.storage.secret.items()]
    constraints = [
        UniqueConstraint(spec.column_of(key), name=f"uq_{spec.storage.table}_{key}")
        for key in spec.conflict_keys
    ]
    table = Table(spec.storage.table, metadata, *columns, *constraints)
    if spec.app_field is not None:
        Index(f"ix_{spec.storage.table}_app_id", table.c[spec.column_of(spec.app_field)])
    return table


@functools.cache
def reference_metadata(registry: Registry) -> MetaData:
    """The reference platform's tables (with their secret columns) and appsync's own."""
    metadata = MetaData()
    for spec in registry:
        _kind_table(metadata, spec)
    _own_tables(metadata)
    return metadata
