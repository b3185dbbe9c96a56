"""Directus's data model written as DDL: tables for collections, columns for fields, foreign
keys for relations — inside the caller's transaction, on SQLite and PostgreSQL.

Column types are the ones Directus itself creates (``varchar(255)`` for a string, ``uuid`` /
``char(36)`` for a uuid, ...), except where SQLite would lose the type (a ``decimal`` stays
``decimal(p,s)``, a ``timestamp`` stays ``timestamp``), so that reading the column back gives
the field it was written from. What SQLite's ALTER TABLE cannot do (change a column, add or
drop a foreign key) is done by rebuilding the table: renamed aside in legacy mode (so other
tables' foreign keys keep pointing at the name), created anew, copied, dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy import types as sa

from appsync.errors import InstanceError
from appsync.instance.directus.columns import ALIAS, NOW, ForeignKey, Table

_TYPES: dict[str, Any] = {
    "text": sa.Text(),
    "csv": sa.Text(),
    "integer": sa.Integer(),
    "bigInteger": sa.BigInteger(),
    "float": sa.Float(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "time": sa.Time(),
    "dateTime": sa.DateTime(timezone=False),
    "json": sa.JSON(),
    "binary": sa.LargeBinary(),
    "hash": sa.String(255),
}


def quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def sql_type(connection: Connection, field_type: str, schema: Mapping[str, Any]) -> str:
    """The column type of a Directus field on this engine."""
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"
    if field_type == "string":
        length = schema.get("max_length")
        return f"varchar({int(length)})" if length else ("varchar(255)" if sqlite else "varchar")
    if field_type == "uuid":
        return "char(36)" if sqlite else "uuid"
    if field_type == "decimal":
        precision = int(schema.get("numeric_precision") or 10)
        scale = int(schema.get("numeric_scale") or 5)
        return f"decimal({precision}, {scale})" if sqlite else f"numeric({precision}, {scale})"
    if field_type == "timestamp":
        return "timestamp" if sqlite else "timestamp with time zone"
    if field_type in ("json", "boolean"):
        return field_type
    if field_type == "float":
        return "float" if sqlite else "real"
    kind = _TYPES.get(field_type)
    if kind is None:
        raise InstanceError(f"cannot create a column of Directus type '{field_type}'")
    return str(kind.compile(dialect=dialect))


def default_sql(connection: Connection, field_type: str, value: Any) -> str | None:
    if value is None:
        return None
    if value == NOW and field_type in ("timestamp", "dateTime", "date", "time"):
        return "CURRENT_TIMESTAMP"
    if isinstance(value, bool):
        if connection.dialect.name == "sqlite":
            return "'1'" if value else "'0'"
        return "true" if value else "false"
    if isinstance(value, int | float) and field_type in (
        "integer",
        "bigInteger",
        "float",
        "decimal",
    ):
        return repr(value)
    literal = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "'" + literal.replace("'", "''") + "'"


def column_sql(
    connection: Connection, name: str, field_type: str, schema: Mapping[str, Any]
) -> str:
    """``"title" varchar(255) NOT NULL DEFAULT 'x'`` (primary keys are declared by the table)."""
    sqlite = connection.dialect.name == "sqlite"
    if schema.get("is_primary_key") and schema.get("has_auto_increment"):
        if sqlite:
            return f"{quote(connection, name)} integer PRIMARY KEY AUTOINCREMENT NOT NULL"
        serial = "bigserial" if field_type == "bigInteger" else "serial"
        return f"{quote(connection, name)} {serial} NOT NULL"
    parts = [quote(connection, name), sql_type(connection, field_type, schema)]
    if not schema.get("is_nullable", True) or schema.get("is_primary_key"):
        parts.append("NOT NULL")
    default = default_sql(connection, field_type, schema.get("default_value"))
    if default is not None:
        parts.append(f"DEFAULT {default}")
    return " ".join(parts)


def _fk_sql(connection: Connection, fk: ForeignKey, name: str) -> str:
    q = quote
    return (
        f"CONSTRAINT {q(connection, name)} FOREIGN KEY ({q(connection, fk.column)}) "
        f"REFERENCES {q(connection, fk.foreign_table)} ({q(connection, fk.foreign_column)}) "
        f"ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}"
    )


def fk_name(table: str, column: str) -> str:
    """The name Directus (knex) gives a relation's constraint."""
    return f"{table}_{column}_foreign"[:63]


def _index_name(table: str, column: str, unique: bool) -> str:
    return f"{table}_{column}_{'unique' if unique else 'index'}"[:63]


def _fields_with_columns(fields: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [f for f in fields if f.get("type") != ALIAS and f.get("schema") is not None]


def create_table(
    connection: Connection,
    table: str,
    fields: Iterable[Mapping[str, Any]],
    fks: Iterable[ForeignKey] = (),
) -> None:
    columns = _fields_with_columns(fields)
    if not columns:
        raise InstanceError(
            f"collection '{table}' has no field with a column: it needs a primary key"
        )
    parts = [column_sql(connection, f["field"], f["type"], f["schema"]) for f in columns]
    keys = [f["field"] for f in columns if f["schema"].get("is_primary_key")]
    auto = any(
        f["schema"].get("has_auto_increment") for f in columns if f["schema"].get("is_primary_key")
    )
    if keys and not (auto and connection.dialect.name == "sqlite"):
        parts.append(f"PRIMARY KEY ({', '.join(quote(connection, k) for k in keys)})")
    parts += [_fk_sql(connection, fk, fk.name or fk_name(table, fk.column)) for fk in fks]
    connection.execute(text(f"CREATE TABLE {quote(connection, table)} ({', '.join(parts)})"))
    for f in columns:
        _indexes(connection, table, f["field"], f["schema"], None)


def _indexes(
    connection: Connection,
    table: str,
    column: str,
    schema: Mapping[str, Any],
    old: Mapping[str, Any] | None,
) -> None:
    q = quote
    for flag, unique in (("is_unique", True), ("is_indexed", False)):
        want, had = bool(schema.get(flag)), bool(old.get(flag)) if old else False
        name = _index_name(table, column, unique)
        if want and not had:
            kind = "UNIQUE INDEX" if unique else "INDEX"
            target = f"{q(connection, table)} ({q(connection, column)})"
            connection.execute(text(f"CREATE {kind} {q(connection, name)} ON {target}"))
        elif had and not want:
            _drop_index(connection, table, column, unique)


def _drop_index(connection: Connection, table: str, column: str, unique: bool) -> None:
    from sqlalchemy import inspect

    inspector = inspect(connection)
    for index in inspector.get_indexes(table):
        name = index["name"]
        if name and index["column_names"] == [column] and bool(index.get("unique")) == unique:
            connection.execute(text(f"DROP INDEX {quote(connection, name)}"))
    if unique and connection.dialect.name == "postgresql":
        for constraint in inspector.get_unique_constraints(table):
            name = constraint["name"]
            if name and constraint["column_names"] == [column]:
                target = quote(connection, table)
                connection.execute(
                    text(f"ALTER TABLE {target} DROP CONSTRAINT {quote(connection, name)}")
                )


def drop_table(connection: Connection, table: str) -> None:
    connection.execute(text(f"DROP TABLE {quote(connection, table)}"))


def add_column(connection: Connection, table: str, field: Mapping[str, Any]) -> None:
    schema = field["schema"]
    if schema.get("is_primary_key"):
        raise InstanceError(
            f"{table}.{field['field']}: a primary key cannot be added to an existing table"
        )
    connection.execute(
        text(
            f"ALTER TABLE {quote(connection, table)} ADD COLUMN "
            f"{column_sql(connection, field['field'], field['type'], schema)}"
        )
    )
    _indexes(connection, table, field["field"], schema, None)


def alter_postgres(
    connection: Connection, table: str, field: Mapping[str, Any], old: Mapping[str, Any]
) -> None:
    """Change a column in place on PostgreSQL: type, nullability, default, indexes."""
    q = quote
    t, c = q(connection, table), q(connection, field["field"])
    schema, before = field["schema"], old["schema"]
    new_type = sql_type(connection, field["type"], schema)
    if new_type != sql_type(connection, old["type"], before) and not schema.get(
        "has_auto_increment"
    ):
        connection.execute(
            text(f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {new_type} USING {c}::{new_type}")
        )
    if bool(schema.get("is_nullable", True)) != bool(before.get("is_nullable", True)):
        action = "DROP NOT NULL" if schema.get("is_nullable", True) else "SET NOT NULL"
        connection.execute(text(f"ALTER TABLE {t} ALTER COLUMN {c} {action}"))
    if schema.get("default_value") != before.get("default_value") and not schema.get(
        "has_auto_increment"
    ):
        default = default_sql(connection, field["type"], schema.get("default_value"))
        action = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
        connection.execute(text(f"ALTER TABLE {t} ALTER COLUMN {c} {action}"))
    _indexes(connection, table, field["field"], schema, before)


def drop_column(connection: Connection, table: str, column: str) -> None:
    connection.execute(
        text(f"ALTER TABLE {quote(connection, table)} DROP COLUMN {quote(connection, column)}")
    )


def add_foreign_key(connection: Connection, fk: ForeignKey) -> None:
    q = quote
    constraint = _fk_sql(connection, fk, fk_name(fk.table, fk.column))
    connection.execute(text(f"ALTER TABLE {q(connection, fk.table)} ADD {constraint}"))


def drop_foreign_key(connection: Connection, fk: ForeignKey) -> None:
    if fk.name is None:
        raise InstanceError(f"{fk.table}.{fk.column}: its foreign key has no name to drop it by")
    table, name = quote(connection, fk.table), quote(connection, fk.name)
    connection.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))


def rebuild_sqlite(
    connection: Connection,
    table: str,
    fields: Iterable[Mapping[str, Any]],
    fks: Iterable[ForeignKey],
    live: Table,
) -> None:
    """Give a SQLite table new columns and foreign keys, keeping its rows: rename it aside
    (legacy mode: other tables keep referring to the name), create it anew, copy, drop."""
    q = quote
    aside = f"{table}__appsync_old"
    wanted = _fields_with_columns(fields)
    common = [f["field"] for f in wanted if f["field"] in live.columns]
    connection.execute(text("PRAGMA legacy_alter_table = ON"))
    try:
        connection.execute(
            text(f"ALTER TABLE {q(connection, table)} RENAME TO {q(connection, aside)}")
        )
        for index in _sqlite_indexes(connection, aside):
            connection.execute(text(f"DROP INDEX {q(connection, index)}"))
        create_table(connection, table, wanted, fks)
        if common:
            names = ", ".join(q(connection, c) for c in common)
            source = q(connection, aside)
            connection.execute(
                text(f"INSERT INTO {q(connection, table)} ({names}) SELECT {names} FROM {source}")
            )
        connection.execute(text(f"DROP TABLE {q(connection, aside)}"))
    finally:
        connection.execute(text("PRAGMA legacy_alter_table = OFF"))
    problems = connection.execute(text(f"PRAGMA foreign_key_check({q(connection, table)})")).all()
    if problems:
        raise InstanceError(
            f"{table}: {len(problems)} row(s) would break a foreign key after the change"
        )


def _sqlite_indexes(connection: Connection, table: str) -> list[str]:
    query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql NOTNULL"
    rows = connection.execute(text(query), {"t": table})
    return [r[0] for r in rows]


def row_count(connection: Connection, table: str) -> int:
    return int(
        connection.execute(text(f"SELECT count(*) FROM {quote(connection, table)}")).scalar() or 0
    )
