"""The storage mapping in SQLAlchemy terms: tables and column types of a platform's kinds, and
the codecs that turn column values into field values and back.

Built from the manifests only (``storage:`` of each kind, ``codecs`` of the platform); the
reader and the writer (:mod:`appsync.instance.store`) are generic over it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import UUID, TypeEngine

from appsync.canonical.jsonform import load_stored
from appsync.kinds import ChildSpec, FieldSpec, KindSpec, Registry
from appsync.kinds.spec import Codec, FieldType


def native_type(field_type: FieldType) -> TypeEngine[Any]:
    match field_type:
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
    raise AssertionError(field_type)


def uuid_type() -> TypeEngine[Any]:
    """A platform uuid column: ``uuid`` on PostgreSQL (bound and read as text), ``char(36)``
    elsewhere. (The generic UUID is PostgreSQL's own: no dialect is imported for it.)"""
    return String(36).with_variant(UUID(as_uuid=False), "postgresql")


def column_type(field_type: FieldType, codec: Codec) -> TypeEngine[Any]:
    if codec == "uuid":
        return uuid_type()
    if codec in ("json_text", "csv"):
        return Text()
    return native_type(field_type)


def decodes(field: FieldSpec, codec: Codec) -> bool:
    """Whether :func:`decode` may change a value of this field (else it is the column's
    value as the driver gave it, and need not be called for each row)."""
    return codec != "native" or field.type in ("bytes", "bool", "uuid")


def decode(field: FieldSpec, codec: Codec, value: Any) -> Any:
    """A column value as the field's value in the tree."""
    if value is None:
        return None
    if codec == "json_text" and isinstance(value, str):
        try:
            return load_stored(value)
        except json.JSONDecodeError:
            return value
    if codec == "csv":
        text = str(value)
        return [part for part in text.split(",")] if text else []
    if field.type == "bytes":
        return bytes(value)
    if field.type == "bool" and not isinstance(value, bool):
        return str(value).strip().lower() not in ("0", "false", "")
    if field.type == "uuid":
        return str(value)
    return value


def encode(field: FieldSpec, codec: Codec, value: Any) -> Any:
    """A field value as its column holds it."""
    if value is None:
        return None
    if codec == "json_text":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if codec == "csv":
        return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return value


class KindTable:
    """One kind's table, with the column and codec of each stored field."""

    def __init__(self, registry: Registry, spec: KindSpec, metadata: MetaData) -> None:
        self.spec = spec
        platform = registry.platform
        storage = spec.storage
        self.codecs: dict[str, Codec] = {}
        self.columns: dict[str, str] = {}  # field -> column
        columns: dict[str, Column[Any]] = {}
        for field in spec.content_fields:
            if field.name in storage.children or field.name in storage.computed:
                continue
            if field.name == "id" and spec.identity.strategy != "uuid":
                continue  # a derived id is not stored
            codec = platform.codec(spec, field)
            self.codecs[field.name] = codec
            name = spec.column_of(field.name)
            self.columns[field.name] = name
            columns[name] = Column(name, column_type(field.type, codec))
        if storage.id not in columns:
            id_type = uuid_type() if platform.codecs.get("uuid") == "uuid" else None
            if spec.identity.strategy == "uuid":
                columns[storage.id] = Column(storage.id, id_type or String(36))
            else:
                columns[storage.id] = Column(storage.id, BigInteger())
        for name in storage.where:
            if name not in columns:
                columns[name] = Column(name, _filter_type(registry))
        self.table = Table(storage.table, metadata, *columns.values())
        self.id_column = storage.id
        self.children = {
            name: ChildTable(registry, spec, name, child, metadata)
            for name, child in storage.children.items()
        }


def _filter_type(registry: Registry) -> TypeEngine[Any]:
    return uuid_type() if registry.platform.codecs.get("uuid") == "uuid" else String()


class ChildTable:
    """A child table held as the keyed list ``field`` of its parent."""

    def __init__(
        self,
        registry: Registry,
        parent: KindSpec,
        field: str,
        child: ChildSpec,
        metadata: MetaData,
    ) -> None:
        platform = registry.platform
        self.field = field
        self.spec = child
        keyed = parent.fields[field].keyed_list
        assert keyed is not None
        self.keyed = keyed
        self.codecs: dict[str, Codec] = {}
        self.columns: dict[str, str] = {}
        columns: dict[str, Column[Any]] = {}
        for item in child.fields.values():
            column = child.columns.get(item.name)
            codec: Codec = (
                column.codec
                if column is not None and column.codec is not None
                else platform.codecs.get(item.type, "native")
            )
            name = column.column if column is not None and column.column else item.name
            self.codecs[item.name] = codec
            self.columns[item.name] = name
            columns[name] = Column(name, column_type(item.type, codec))
        parent_type = _parent_type(registry, parent)
        columns.setdefault(child.parent, Column(child.parent, parent_type))
        if child.id is not None and child.id not in columns:
            id_type = BigInteger() if child.id_strategy == "serial" else _filter_type(registry)
            columns[child.id] = Column(child.id, id_type)
        if child.order is not None and child.order not in columns:
            columns[child.order] = Column(child.order, BigInteger())
        self.table = Table(child.table, metadata, *columns.values())


def _parent_type(registry: Registry, parent: KindSpec) -> TypeEngine[Any]:
    storage_id = parent.storage.id
    for field in parent.content_fields:
        if parent.column_of(field.name) == storage_id:
            return column_type(field.type, registry.platform.codec(parent, field))
    if parent.identity.strategy == "uuid":
        return _filter_type(registry)
    return BigInteger()


class Mapping:
    """Every kind table of a platform."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.metadata = MetaData()
        self.kinds = {spec.kind: KindTable(registry, spec, self.metadata) for spec in registry}

    def of(self, kind: str) -> KindTable:
        return self.kinds[kind]


@functools.cache
def mapping_for(registry: Registry) -> Mapping:
    return Mapping(registry)
