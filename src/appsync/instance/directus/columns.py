"""Directus's data model as the database holds it, read in bulk and made engine-neutral.

A collection's columns are reflected once per read (SQLAlchemy's multi-table reflection:
one query per aspect on PostgreSQL), then described the way the tree holds them: the Directus
type (``string``, ``uuid``, ``timestamp``, ...) and a ``schema`` that is the same on SQLite and
PostgreSQL — a uuid is a uuid whether it is ``char(36)`` or ``uuid``, a length or precision the
type does not have is null, defaults lose their casts and quotes. Foreign keys (relations)
come from the same reflection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy import types as sa

#: Directus types that have no column.
ALIAS = "alias"
#: A default that means "now" on either engine, as the tree writes it.
NOW = "CURRENT_TIMESTAMP"
_CAST = re.compile(r"::[a-z_ ]+(\(\d+(,\s*\d+)?\))?(\[\])?$", re.IGNORECASE)


@dataclass
class Column:
    name: str
    type: str
    schema: dict[str, Any]


@dataclass
class ForeignKey:
    table: str
    column: str
    foreign_table: str
    foreign_column: str
    on_delete: str
    on_update: str
    name: str | None = None


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKey] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)


def directus_type(sa_type: Any, special: list[str] | None, dialect: str) -> str:
    """The Directus type of a column, as Directus's own ``getLocalType`` would say it, but
    the same on every engine (a ``char(36)`` on SQLite is the uuid Directus made it)."""
    marks = set(special or [])
    if "cast-json" in marks:
        return "json"
    if "hash" in marks:
        return "hash"
    if "cast-csv" in marks:
        return "csv"
    if "uuid" in marks or "file" in marks:
        return "uuid"
    if "cast-timestamp" in marks:
        return "timestamp"
    if "cast-datetime" in marks:
        return "dateTime"
    return _by_type(sa_type, dialect)


def _by_type(sa_type: Any, dialect: str) -> str:
    name = type(sa_type).__name__.upper()
    if isinstance(sa_type, sa.Boolean):
        return "boolean"
    if isinstance(sa_type, sa.BigInteger):
        return "bigInteger"
    if isinstance(sa_type, sa.Integer):
        return "integer"
    if isinstance(sa_type, sa.Float | sa.REAL) or name in ("DOUBLE", "DOUBLE_PRECISION", "REAL"):
        return "float"
    if isinstance(sa_type, sa.Numeric):
        return "decimal"
    if name == "UUID" or isinstance(sa_type, sa.Uuid):
        return "uuid"
    if isinstance(sa_type, sa.CHAR) and getattr(sa_type, "length", None) == 36:
        return "uuid"
    if isinstance(sa_type, sa.Text) or name in ("CLOB", "CITEXT"):
        return "text"
    if isinstance(sa_type, sa.String):
        return "string"
    if isinstance(sa_type, sa.JSON) or name in ("JSON", "JSONB"):
        return "json"
    if isinstance(sa_type, sa.DateTime):
        timezone = bool(getattr(sa_type, "timezone", False))
        return (
            "timestamp" if timezone or (name == "TIMESTAMP" and dialect == "sqlite") else "dateTime"
        )
    if isinstance(sa_type, sa.Date):
        return "date"
    if isinstance(sa_type, sa.Time):
        return "time"
    if isinstance(sa_type, sa.LargeBinary) or name in ("BYTEA", "BLOB"):
        return "binary"
    return "unknown"


def normal_default(value: str | None, directus: str) -> Any:
    """A column default without engine syntax: ``'draft'::character varying`` -> ``draft``,
    ``'0'`` of a boolean -> ``false``, ``now()`` -> ``CURRENT_TIMESTAMP``."""
    if value is None:
        return None
    text_value = value.strip()
    while text_value.startswith("(") and text_value.endswith(")"):
        text_value = text_value[1:-1].strip()
    while _CAST.search(text_value):
        text_value = _CAST.sub("", text_value).strip()
    if text_value.lower().startswith("nextval("):
        return None
    if text_value.upper() == "NULL":
        return None
    if text_value.lower() in ("now()", "current_timestamp", "current_timestamp()"):
        return NOW
    if len(text_value) >= 2 and text_value[0] == "'" and text_value[-1] == "'":
        text_value = text_value[1:-1].replace("''", "'")
    if directus == "boolean":
        lowered = text_value.lower()
        if lowered in ("1", "true", "t"):
            return True
        if lowered in ("0", "false", "f"):
            return False
    if directus in ("integer", "bigInteger"):
        try:
            return int(text_value)
        except ValueError:
            return text_value
    if directus in ("float", "decimal"):
        try:
            number = float(text_value)
        except ValueError:
            return text_value
        return int(number) if number.is_integer() else number
    return text_value


def column_schema(
    reflected: Any,
    directus: str,
    *,
    primary: bool,
    unique: bool,
    indexed: bool,
    dialect: str,
) -> dict[str, Any]:
    sa_type = reflected["type"]
    length = getattr(sa_type, "length", None) if directus in ("string", "hash") else None
    precision = scale = None
    if directus == "decimal":
        precision = getattr(sa_type, "precision", None)
        scale = getattr(sa_type, "scale", None)
    auto = False
    if primary and directus in ("integer", "bigInteger"):
        default = reflected.get("default") or ""
        auto = (
            dialect == "sqlite"
            or "nextval(" in str(default)
            or reflected.get("autoincrement") is True
            or bool(reflected.get("identity"))
        )
    return {
        "default_value": None if auto else normal_default(reflected.get("default"), directus),
        "has_auto_increment": auto,
        "is_indexed": indexed and not primary and not unique,
        "is_nullable": bool(reflected.get("nullable", True)) and not primary,
        "is_primary_key": primary,
        "is_unique": unique and not primary,
        "max_length": length,
        "numeric_precision": precision,
        "numeric_scale": scale,
    }


def reflect(
    connection: Connection, tables: list[str], specials: dict[tuple[str, str], list[str]]
) -> dict[str, Table]:
    """Every named table that exists, with its columns described for the tree."""
    if not tables:
        return {}
    inspector = inspect(connection)
    dialect = connection.dialect.name
    present = set(inspector.get_table_names())
    names = [t for t in tables if t in present]
    if not names:
        return {}
    columns = inspector.get_multi_columns(filter_names=names)
    pks = inspector.get_multi_pk_constraint(filter_names=names)
    indexes = inspector.get_multi_indexes(filter_names=names)
    uniques = inspector.get_multi_unique_constraints(filter_names=names)
    foreign = _foreign_keys(connection, inspector, names)
    result: dict[str, Table] = {}
    for (_, name), reflected in columns.items():
        pk_info: Any = pks.get((None, name)) or {}
        pk = list(pk_info.get("constrained_columns") or [])
        single_unique = {
            u["column_names"][0]
            for u in uniques.get((None, name), [])
            if len(u["column_names"]) == 1
        }
        single_index: set[str] = set()
        for index in indexes.get((None, name), []):
            if len(index["column_names"]) == 1 and index["column_names"][0] is not None:
                (single_unique if index.get("unique") else single_index).add(
                    index["column_names"][0]
                )
        table = Table(name, primary_key=pk, foreign_keys=foreign.get(name, {}))
        for column in reflected:
            special = specials.get((name, column["name"]))
            directus = directus_type(column["type"], special, dialect)
            schema = column_schema(
                column,
                directus,
                primary=column["name"] in pk and len(pk) == 1,
                unique=column["name"] in single_unique,
                indexed=column["name"] in single_index,
                dialect=dialect,
            )
            table.columns[column["name"]] = Column(column["name"], directus, schema)
        result[name] = table
    return result


def _action(value: Any) -> str:
    return str(value).upper() if value else "NO ACTION"


def _foreign_keys(
    connection: Connection, inspector: Any, names: list[str]
) -> dict[str, dict[str, ForeignKey]]:
    """Single-column foreign keys per table and column. SQLite's are read from PRAGMA
    foreign_key_list (the reflected table SQL does not always yield their actions)."""
    found: dict[str, dict[str, ForeignKey]] = {}
    if connection.dialect.name == "sqlite":
        for name in names:
            quoted = name.replace('"', '""')
            rows = connection.execute(text(f'PRAGMA foreign_key_list("{quoted}")')).mappings()
            grouped: dict[int, list[Any]] = {}
            for row in rows:
                grouped.setdefault(int(row["id"]), []).append(row)
            for parts in grouped.values():
                if len(parts) != 1:
                    continue
                row = parts[0]
                found.setdefault(name, {})[row["from"]] = ForeignKey(
                    name,
                    row["from"],
                    row["table"],
                    row["to"] or "",
                    _action(row["on_delete"]),
                    _action(row["on_update"]),
                )
        return found
    for (_, name), keys in inspector.get_multi_foreign_keys(filter_names=names).items():
        for key in keys:
            if len(key["constrained_columns"]) != 1:
                continue
            options = key.get("options") or {}
            column = key["constrained_columns"][0]
            found.setdefault(name, {})[column] = ForeignKey(
                name,
                column,
                key["referred_table"],
                (key["referred_columns"] or [""])[0],
                _action(options.get("ondelete")),
                _action(options.get("onupdate")),
                key.get("name"),
            )
    return found
