"""The reference platform schema (DESIGN section 2), built from the kind manifests, plus
appsync's own bookkeeping tables."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from appsync.kinds import FieldSpec, KindSpec, Registry

HISTORY = "appsync_history"
SYNC_STATE = "appsync_sync_state"
AUDIT = "appsync_audit"
LOCK = "appsync_lock"
META = "appsync_meta"
OWN_TABLES = (HISTORY, SYNC_STATE, AUDIT, LOCK, META)

#: Version of the reference schema this appsync creates and reads.
SCHEMA_VERSION = "1"


def _column_type(field: FieldSpec) -> TypeEngine[Any]:
    match field.type:
        case "uuid":
            return String(36)
        case "string":
            return String()
        case "text":
            return Text()
        case "json":
            return JSON(none_as_null=True)
        case "bytes":
            return LargeBinary()
        case "bool":
            return Boolean()
        case "int":
            return BigInteger()
        case "float":
            return Float()
    raise AssertionError(field.type)


def kind_table(metadata: MetaData, spec: KindSpec) -> Table:
    columns = [
        Column(f.name, _column_type(f), primary_key=f.name == "id", nullable=f.name != "id")
        for f in spec.fields.values()
    ]
    constraints = [
        UniqueConstraint(key, name=f"uq_{spec.table}_{key}") for key in spec.conflict_keys
    ]
    table = Table(spec.table, metadata, *columns, *constraints)
    if "app_id" in spec.fields:
        Index(f"ix_{spec.table}_app_id", table.c.app_id)
    return table


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
def build_metadata(registry: Registry) -> MetaData:
    metadata = MetaData()
    for spec in registry:
        kind_table(metadata, spec)
    _own_tables(metadata)
    return metadata
