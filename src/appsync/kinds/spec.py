"""Typed kind specs: what a kind looks like in the tree, and how its platform stores it.

A platform is a folder of manifests (``manifests/<platform>/``): ``platform.yaml`` with what
holds for every kind of the platform (apply categories, transaction batches, how apps are
scoped, column codecs), and one ``<kind>.yaml`` per kind. A kind's manifest has two halves:

* the tree side: folder, slug, scope, fields with their types, sets, sidecars, keyed lists,
  references to other kinds, conflict keys, identity, apply category and order, risk;
* ``storage:``: table, id column, column <-> field, codecs (JSON or CSV held in text, native
  uuid columns), child tables held as keyed lists, row filters, secret and volatile columns,
  built-in rows matched by what defines them.

Everything downstream is generic over these specs; nothing in the core names a kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["uuid", "string", "text", "json", "bytes", "bool", "int", "float"]
Scope = Literal["instance", "app", "app_root"]
#: How a field's value is held in its column: ``native`` (the column type of the field's
#: type), ``uuid`` (a platform uuid column: ``uuid`` on PostgreSQL, ``char(36)`` elsewhere),
#: ``json_text`` (JSON in a text column), ``csv`` (a list of strings as comma-separated text).
Codec = Literal["native", "uuid", "json_text", "csv"]
IdStrategy = Literal["uuid", "natural", "singleton"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


class SidecarSpec(_Frozen):
    """Where a field's value lives beside the object's JSON file."""

    ext: str | None = None
    ext_from: str | None = None
    ext_map: dict[str, str] = Field(default_factory=dict)
    default_ext: str = "txt"


class KeyedList(_Frozen):
    """A JSON list whose items carry a stable key — one field or several (unique within
    ``group`` when given): merges and diffs match items by it, never by position."""

    key: tuple[str, ...]
    group: str | None = None
    #: Whether the list's order means something; an unordered one is kept sorted by key.
    ordered: bool = True

    _tuple = field_validator("key", mode="before")(_as_tuple)

    @property
    def identity(self) -> tuple[str, ...]:
        """The fields that identify an item: its group (when keys are unique only in one)
        and its key."""
        return (self.group, *self.key) if self.group else self.key

    def key_of(self, item: Any) -> Any:
        """The item's identity: the value of the one key field, or a tuple of the values."""
        if not isinstance(item, dict):
            return None
        if len(self.identity) == 1:
            return item.get(self.identity[0])
        return tuple(item.get(k) for k in self.identity)

    def label(self, item: Any) -> str:
        """``id=export`` / ``collection=articles,action=read``: how a diff path names an
        item (``pane=toolbar,id=export`` in a list grouped by pane)."""
        values = item if isinstance(item, dict) else {}
        return ",".join(f"{k}={_plain(values.get(k))}" for k in self.identity)


def _plain(value: Any) -> str:
    return "null" if value is None else str(value)


class FieldSpec(_Frozen):
    name: str = ""
    type: FieldType
    set: bool = False
    sidecar: SidecarSpec | None = None
    keyed_list: KeyedList | None = None


class Reference(_Frozen):
    """A path inside an object (``role_ids[*]``, ``definition.datasets[*].query_id``) naming
    another object. The value is the other object's ``id``, or with ``by`` another of its
    fields (a collection's name). ``missing: warn`` makes a dangling one a warning; values
    matching ``builtin`` (a regular expression) name platform objects that are never in a tree
    (``directus_users``). ``within`` makes it a reference inside the same object: the value
    must be one of the values at that path (an operation's next step in its own flow)."""

    path: str
    kind: str = ""
    by: str = "id"
    missing: Literal["error", "warn"] = "error"
    builtin: str | None = None
    within: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Reference:
        if not self.kind and self.within is None:
            raise ValueError("a reference needs 'kind' or 'within'")
        if self.builtin is not None:
            re.compile(self.builtin)
        return self

    def is_builtin(self, value: Any) -> bool:
        return (
            self.builtin is not None
            and isinstance(value, str)
            and bool(re.fullmatch(self.builtin, value))
        )


class SecretPath(_Frozen):
    """A credential inside an ordinary field (DESIGN section 2a): the value at ``path``,
    only where each sibling named in ``where`` matches its regular expression (a header's
    name) and, with ``pattern``, only where the value itself matches (a URL with a token)."""

    path: str
    where: dict[str, str] = Field(default_factory=dict)
    pattern: str | None = None


class Identity(_Frozen):
    """How a kind's objects are identified. ``uuid``: the platform's own stable id.
    ``natural``: the platform keys rows by a serial id or a name, so the tree id is a UUID
    derived from the natural key fields (the same on every instance). ``singleton``: one row
    per instance, with a fixed derived id."""

    strategy: IdStrategy = "uuid"
    key: tuple[str, ...] = ()

    _tuple = field_validator("key", mode="before")(_as_tuple)


class Builtin(_Frozen):
    """A row whose id differs per instance by design (an Administrator role), matched by
    column values: it gets the derived tree id of ``name`` on every instance."""

    name: str
    match: dict[str, Any]


class ColumnSpec(_Frozen):
    column: str | None = None
    codec: Codec | None = None


class ChildSpec(_Frozen):
    """A child table held as a keyed list field of its parent object (a flow's operations,
    a collection's fields). ``parent`` is the child table's column naming the parent row;
    ``fields`` are the items' fields (``key`` among them); ``id`` is the child table's id
    column when it is not one of the item's fields (a serial id, or a uuid derived from the
    parent and the key); ``order`` a column that holds the item's position in the list
    (written 1, 2, ...), never content itself; ``deferred`` item fields that point at other
    items and are written after every item exists."""

    table: str
    parent: str
    fields: dict[str, FieldSpec]
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    id: str | None = None
    id_strategy: Literal["serial", "derived"] = "serial"
    order: str | None = None
    deferred: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _name_fields(cls, data: Any) -> Any:
        return _named_fields(data)


class StorageSpec(_Frozen):
    table: str
    #: The id column. For ``identity: natural`` kinds it is the platform's own key (a serial
    #: id, or the natural key itself), never content.
    id: str = "id"
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    children: dict[str, ChildSpec] = Field(default_factory=dict)
    #: Rows that are definitions: column -> required value (``null`` for IS NULL).
    where: dict[str, Any] = Field(default_factory=dict)
    #: Secret columns (name -> type, for schemas appsync creates): never read, never written.
    secret: dict[str, FieldType] = Field(default_factory=dict)
    #: Columns the platform maintains (timestamps, authors): never content, never written.
    volatile: tuple[str, ...] = ()
    builtins: tuple[Builtin, ...] = ()
    #: Fields that point at rows written after this one (a flow's first operation): written
    #: in a second pass, once everything they may name exists.
    deferred: tuple[str, ...] = ()
    #: Fields the platform's own code reads and writes (a collection's columns: DDL).
    computed: tuple[str, ...] = ()


def _named_fields(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("fields"), dict):
        fields = {}
        for name, spec in data["fields"].items():
            spec = dict(spec) if isinstance(spec, dict) else {"type": spec}
            spec["name"] = name
            fields[name] = spec
        data = {**data, "fields": fields}
    return data


class KindSpec(_Frozen):
    kind: str
    scope: Scope
    folder: str
    #: The field (or fields, joined by '-') a file's slug is made from.
    slug_from: tuple[str, ...]
    #: Slug from the name without its extension (``logo.png`` -> ``logo``).
    slug_drop_extension: bool = False
    conflict_keys: tuple[str, ...] = ()
    category: str
    order: int
    risk: Literal["low", "medium", "high"]
    fields: dict[str, FieldSpec]
    references: tuple[Reference, ...] = ()
    identity: Identity = Field(default_factory=Identity)
    secrets: tuple[SecretPath, ...] = ()
    #: Paths of the fields whose strings may hold per-environment values (bindings).
    bindable: tuple[str, ...] = ()
    storage: StorageSpec

    _tuple = field_validator("slug_from", mode="before")(_as_tuple)

    @model_validator(mode="before")
    @classmethod
    def _name_fields(cls, data: Any) -> Any:
        return _named_fields(data)

    @model_validator(mode="after")
    def _check(self) -> KindSpec:
        if "id" not in self.fields:
            raise ValueError("a kind needs an 'id' field")
        for key in (*self.slug_from, *self.conflict_keys, *self.identity.key):
            if key not in self.fields:
                raise ValueError(f"'{key}' is not a field")
        if self.identity.strategy == "natural" and not self.identity.key:
            raise ValueError("identity: natural needs a key")
        storage = self.storage
        for name in (*storage.children, *storage.columns, *storage.deferred, *storage.computed):
            if name not in self.fields:
                raise ValueError(f"storage names '{name}', which is not a field")
        for name, child in self.storage.children.items():
            keyed = self.fields[name].keyed_list
            if keyed is None:
                raise ValueError(f"child table field '{name}' must be a keyed list")
            for key in keyed.key:
                if key not in child.fields:
                    raise ValueError(f"'{name}': key '{key}' is not a field of its items")
        return self

    @property
    def name_field(self) -> str:
        return self.slug_from[0]

    @property
    def app_field(self) -> str | None:
        """The field naming an app-scoped object's app, when the platform stores one; a
        platform whose one project is one app has none (the app is implicit)."""
        return "app_id" if self.scope == "app" and "app_id" in self.fields else None

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(self.storage.secret)

    @property
    def content_fields(self) -> tuple[FieldSpec, ...]:
        """Fields that make up an object's content, in manifest order."""
        return tuple(self.fields.values())

    @property
    def sidecar_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields.values() if f.sidecar is not None)

    def column_of(self, field: str) -> str:
        column = self.storage.columns.get(field)
        return column.column if column is not None and column.column else field


class PlatformSpec(_Frozen):
    """What holds for every kind of a platform (``platform.yaml``)."""

    platform: str
    description: str = ""
    #: Apply order of the categories; deletes run in reverse.
    categories: tuple[str, ...]
    #: Transaction units of ``--transaction batch``: groups of categories, in order.
    batches: tuple[tuple[str, ...], ...]
    #: ``column``: app-scoped rows name their app (``app_id``); ``project``: the platform's
    #: one project is one app, held by the ``app_root`` kind (a singleton).
    app_scope: Literal["column", "project"] = "column"
    #: The codec of each field type unless a column says otherwise.
    codecs: dict[FieldType, Codec] = Field(default_factory=dict)
    #: Supported platform versions, as the platform reports them (informational).
    versions: tuple[str, ...] = ()
    #: Per supported version, the newest schema migration its database records.
    migrations: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> PlatformSpec:
        batched = [c for group in self.batches for c in group]
        if sorted(batched) != sorted(self.categories):
            raise ValueError("batches must hold every category exactly once")
        return self

    def codec(self, kind: KindSpec, field: FieldSpec) -> Codec:
        column = kind.storage.columns.get(field.name)
        if column is not None and column.codec is not None:
            return column.codec
        return self.codecs.get(field.type, "native")


class Registry:
    """All kinds of one platform, in apply order."""

    def __init__(self, platform: PlatformSpec, kinds: list[KindSpec]) -> None:
        self.platform = platform
        categories = platform.categories
        ordered = sorted(kinds, key=lambda k: (categories.index(k.category), k.order, k.kind))
        self._kinds = {k.kind: k for k in ordered}

    def __iter__(self) -> Iterator[KindSpec]:
        return iter(self._kinds.values())

    def __len__(self) -> int:
        return len(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def get(self, kind: str) -> KindSpec:
        try:
            return self._kinds[kind]
        except KeyError:
            from appsync.errors import ConfigError

            raise ConfigError(f"unknown kind '{kind}'") from None

    @property
    def name(self) -> str:
        return self.platform.platform

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    @property
    def categories(self) -> tuple[str, ...]:
        return self.platform.categories

    @property
    def app(self) -> KindSpec:
        return next(k for k in self if k.scope == "app_root")

    def rank(self, kind: str) -> int:
        """A kind's position in apply order (unknown kinds last)."""
        return self.names.index(kind) if kind in self._kinds else len(self._kinds)
