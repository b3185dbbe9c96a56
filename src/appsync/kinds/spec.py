"""Typed kind specs and the registry that loads them from the manifests folder."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appsync import yamlio
from appsync.errors import ConfigError

FieldType = Literal["uuid", "string", "text", "json", "bytes", "bool", "int", "float"]
Scope = Literal["instance", "app", "app_root"]

#: Apply order of DESIGN section 5; deletes run in reverse.
CATEGORIES: tuple[str, ...] = ("roles", "users", "ui", "data", "functions", "files", "reports")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SidecarSpec(_Frozen):
    """Where a field's value lives beside the object's JSON file."""

    ext: str | None = None
    ext_from: str | None = None
    ext_map: dict[str, str] = Field(default_factory=dict)
    default_ext: str = "txt"


class KeyedList(_Frozen):
    """A JSON list whose items carry a stable key (unique within ``group`` when given)."""

    key: str
    group: str | None = None


class FieldSpec(_Frozen):
    name: str = ""
    type: FieldType
    set: bool = False
    secret: bool = False
    sidecar: SidecarSpec | None = None
    keyed_list: KeyedList | None = None


class Reference(_Frozen):
    """A path inside an object (``role_ids[*]``, ``definition.datasets[*].query_id``) naming
    another object's id; ``missing: warn`` makes a dangling one a warning, not an error."""

    path: str
    kind: str
    missing: Literal["error", "warn"] = "error"


class KindSpec(_Frozen):
    kind: str
    table: str
    scope: Scope
    folder: str
    slug_from: str
    #: Slug from the name without its extension (``logo.png`` -> ``logo``).
    slug_drop_extension: bool = False
    conflict_keys: tuple[str, ...] = ()
    category: str
    order: int
    risk: Literal["low", "medium", "high"]
    fields: dict[str, FieldSpec]
    references: tuple[Reference, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _name_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fields"), dict):
            fields = {}
            for name, spec in data["fields"].items():
                spec = dict(spec) if isinstance(spec, dict) else {"type": spec}
                spec["name"] = name
                fields[name] = spec
            data = {**data, "fields": fields}
        return data

    @model_validator(mode="after")
    def _check(self) -> KindSpec:
        if "id" not in self.fields:
            raise ValueError("a kind needs an 'id' field")
        if self.scope == "app" and "app_id" not in self.fields:
            raise ValueError("an app-scoped kind needs an 'app_id' field")
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        for key in (self.slug_from, *self.conflict_keys):
            if key not in self.fields:
                raise ValueError(f"'{key}' is not a field")
        return self

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields.values() if f.secret)

    @property
    def content_fields(self) -> tuple[FieldSpec, ...]:
        """Fields that make up an object's content: everything but secrets."""
        return tuple(f for f in self.fields.values() if not f.secret)

    @property
    def sidecar_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields.values() if f.sidecar is not None)


class Registry:
    """All kinds, in apply order."""

    def __init__(self, kinds: list[KindSpec]) -> None:
        ordered = sorted(kinds, key=lambda k: (CATEGORIES.index(k.category), k.order, k.kind))
        self._kinds = {k.kind: k for k in ordered}
        self._by_table = {k.table: k for k in ordered}

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
            raise ConfigError(f"unknown kind '{kind}'") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    @property
    def app(self) -> KindSpec:
        return next(k for k in self if k.scope == "app_root")


def manifests_dir() -> Path:
    """The manifests shipped with appsync: the repository's top-level folder in a checkout,
    ``appsync/manifests`` inside an installed wheel."""
    source = Path(__file__).resolve().parents[3] / "manifests"
    if source.is_dir():
        return source
    return Path(str(importlib.resources.files("appsync") / "manifests"))


def load_registry(folder: Path) -> Registry:
    kinds: list[KindSpec] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yamlio.load_file(path)
        try:
            kinds.append(KindSpec.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    if not kinds:
        raise ConfigError(f"{folder}: no kind manifests found")
    roots = [k for k in kinds if k.scope == "app_root"]
    if len(roots) != 1:
        raise ConfigError(f"{folder}: exactly one kind must have scope app_root")
    return Registry(kinds)


@functools.cache
def registry() -> Registry:
    """The registry of the shipped manifests, loaded once."""
    return load_registry(manifests_dir())
