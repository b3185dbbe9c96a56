"""Verifying a package's entries, the stage between reading and unpack or import. Pure.

Every problem at once: required files, checksums, metadata and import settings, schema
version, layout (one app, only files some kind owns), JSON, the object model of each kind,
secrets, references (isolation: a package brings everything it refers to), duplicate ids
and conflict keys. Workflow transitions into an app outside the package are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from appsync.canonical.jsonform import parse_json
from appsync.canonical.tree import (
    APPS_ROOT,
    kind_of_path,
    managed_roots,
    parse,
    render_object,
    sidecar_paths,
)
from appsync.errors import TreeError
from appsync.kinds import Registry, platform_names
from appsync.kinds import registry as load_platform
from appsync.model import Obj
from appsync.package.layout import (
    CHECKSUMS,
    IMPORT_CONFIG,
    METADATA,
    PACKAGE_FILES,
    README,
    ImportConfig,
    Metadata,
    model_problems,
    parse_checksums,
    schema_problem,
    sha256,
)
from appsync.package.names import name_problems
from appsync.validate import validate

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ELSEWHERE = "neither in the repo nor on the target"


@dataclass
class Verified:
    metadata: Metadata | None = None
    config: ImportConfig = field(default_factory=ImportConfig)
    #: The canonical tree: every entry but the four package files.
    tree: dict[str, bytes] = field(default_factory=dict)
    objs: list[Obj] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Warnings about references out of the package (re-checked against a target on import).
    reference_warnings: list[str] = field(default_factory=list)
    #: The platform whose kinds the package holds.
    registry: Registry | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def verify_entries(
    registry: Registry | None,
    files: Mapping[str, bytes],
    *,
    names: set[str] | None = None,
    problems: list[str] | None = None,
    integrity: bool | None = None,
) -> Verified:
    """Check a package's readable ``files``; ``names`` are all its file entries (also those
    that could not be read, with the reading ``problems``). Without ``registry``, the
    platform the package's metadata names."""
    result = Verified(errors=list(problems or []))
    names = set(files) if names is None else names
    for required in (METADATA, IMPORT_CONFIG, README):
        if required not in names:
            result.errors.append(f"{required}: required file is missing")
    if not _metadata(result, files):
        return result  # a newer schema: the rest may mean something else
    platform = result.metadata.platform if result.metadata is not None else "reference"
    if registry is None:
        if platform not in platform_names():
            result.errors.append(f"{METADATA}: platform {platform!r} is not one appsync knows")
            return result
        registry = load_platform(platform)
    elif registry.name != platform:
        result.errors.append(
            f"{METADATA}: the package holds a {platform} tree, not a {registry.name} one"
        )
        return result
    result.registry = registry
    _config(result, files)
    if integrity is None:
        integrity = result.config.options.verify_integrity
    _checksums(result, files, names, integrity)
    if README in files:
        try:
            files[README].decode("utf-8")
        except UnicodeDecodeError:
            result.errors.append(f"{README}: not UTF-8 text")
    for name in (METADATA, IMPORT_CONFIG, CHECKSUMS):
        if name in files:
            _no_secrets(registry, result, name, files[name])
    result.tree = {n: d for n, d in files.items() if n not in PACKAGE_FILES}
    _tree(registry, result)
    return result


# ---------------------------------------------------------------------------- package files


def load_json(name: str, data: bytes) -> tuple[Any, str | None]:
    """Parse untrusted JSON with the tree's bounded parser; the problem instead of raising."""
    try:
        return parse_json(data, name), None
    except TreeError as exc:
        return None, str(exc)


def _metadata(result: Verified, files: Mapping[str, bytes]) -> bool:
    """Reads metadata.json; False when its schema version is newer than this appsync."""
    if METADATA not in files:
        return True
    data, problem = load_json(METADATA, files[METADATA])
    if problem:
        result.errors.append(problem)
        return True
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, str):
        reason = schema_problem(version)
        if reason:
            result.errors.append(f"{METADATA}: {reason}")
            return False
    try:
        result.metadata = Metadata.model_validate(data)
    except ValidationError as exc:
        result.errors.extend(model_problems(METADATA, exc))
    return True


def _config(result: Verified, files: Mapping[str, bytes]) -> None:
    if IMPORT_CONFIG not in files:
        return
    data, problem = load_json(IMPORT_CONFIG, files[IMPORT_CONFIG])
    if problem:
        result.errors.append(problem)
        return
    try:
        result.config = ImportConfig.model_validate(data)
    except ValidationError as exc:
        result.errors.extend(model_problems(IMPORT_CONFIG, exc))


def _checksums(
    result: Verified, files: Mapping[str, bytes], names: set[str], integrity: bool
) -> None:
    if CHECKSUMS not in files:
        if integrity and CHECKSUMS not in names:
            result.errors.append(
                f"{CHECKSUMS}: required file is missing (integrity verification is on)"
            )
        return
    data, problem = load_json(CHECKSUMS, files[CHECKSUMS])
    if problem:
        result.errors.append(problem)
        return
    listed, problems = parse_checksums(data)
    result.errors.extend(problems)
    for name in sorted(names - {CHECKSUMS}):
        if name not in listed:
            result.errors.append(f"{name}: not listed in {CHECKSUMS}")
        elif name in files and sha256(files[name]) != listed[name]:
            result.errors.append(
                f"{name}: checksum mismatch (SHA-256 {sha256(files[name])[:12]}…, "
                f"{CHECKSUMS} says {listed[name][:12]}…)"
            )
    for name in sorted(set(listed) - names - {CHECKSUMS}):
        if name_problems(name):
            continue  # an unsafe entry, reported as such
        result.errors.append(f"{name}: listed in {CHECKSUMS} but not in the package")


def _no_secrets(registry: Registry, result: Verified, name: str, data: bytes) -> None:
    secrets = {s for spec in registry for s in spec.secret_fields}
    value, problem = load_json(name, data)
    if problem:
        return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in sorted(set(item) & secrets):
                result.errors.append(f"{name}: carries '{key}', a secret: never in a package")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# ---------------------------------------------------------------------------- the tree


def _tree(registry: Registry, result: Verified) -> None:
    tree = result.tree
    roots = managed_roots(registry)
    bad_json: set[str] = set()
    documents: dict[str, Any] = {}
    for path, data in tree.items():
        if kind_of_path(registry, path) is not None:
            documents[path], problem = load_json(path, data)
            if problem:
                result.errors.append(problem)
                bad_json.add(path)
    readable = {p: d for p, d in tree.items() if p not in bad_json}
    sidecars = sidecar_paths(readable, registry)
    for path in tree:
        parts = path.split("/")
        if parts[0] not in roots or len(parts) < 2:
            result.errors.append(
                f"{path}: not part of a package (expected {', '.join(PACKAGE_FILES)}, "
                f"{', '.join(r + '/' for r in roots)})"
            )
        elif kind_of_path(registry, path) is None and path not in sidecars:
            result.errors.append(f"{path}: unknown file: no kind owns it and no object names it")
    apps = [p.split("/") for p in tree if p.startswith(f"{APPS_ROOT}/")]
    folders = sorted({parts[1] for parts in apps if len(parts) >= 3})
    expected = result.metadata.app.folder if result.metadata else None
    main = expected if expected in folders else (folders[0] if folders else None)
    for folder in folders:
        if folder != main:
            result.errors.append(
                f"{APPS_ROOT}/{folder}/: a package holds one app ({APPS_ROOT}/{main}/)"
            )
    if main is None:
        result.errors.append(f"{APPS_ROOT}/: the package holds no app")
    secrets = _object_secrets(registry, result, documents)
    try:
        result.objs = parse(registry, readable)
    except TreeError as exc:
        missing = tuple(f"{p} is missing" for p in bad_json)
        result.errors.extend(
            p
            for p in exc.problems
            if not (missing and p.endswith(missing))
            and "must not be in the tree" not in p
            and not any(p.startswith(f"{path}: unknown field '{key}'") for path, key in secrets)
        )
        return
    _models(registry, result)
    _app_matches(registry, result, main)
    _references(registry, result)
    for obj in result.objs:
        assert obj.path is not None
        canonical = render_object(registry.get(obj.kind), obj, obj.path)
        if canonical.get(obj.path) != tree.get(obj.path):
            result.warnings.append(f"{obj.path}: not in canonical form ('appsync fmt' rewrites it)")


def _object_secrets(
    registry: Registry, result: Verified, documents: Mapping[str, Any]
) -> set[tuple[str, str]]:
    """Secret fields (of any kind) in object files: never in a package."""
    names = {s for spec in registry for s in spec.secret_fields}
    found: set[tuple[str, str]] = set()
    for path, document in sorted(documents.items()):
        if isinstance(document, dict):
            for key in sorted(set(document) & names):
                found.add((path, key))
                result.errors.append(f"{path}: '{key}' is a secret: never in a package")
    return found


def _models(registry: Registry, result: Verified) -> None:
    """What the tree parser leaves to the database: ids are UUIDs, sets are lists."""
    for obj in result.objs:
        spec = registry.get(obj.kind)
        for fspec in spec.content_fields:
            value = obj.content.get(fspec.name)
            if value is None:
                continue
            if fspec.type == "uuid" and not (isinstance(value, str) and _UUID.match(value)):
                result.errors.append(f"{obj.path}: '{fspec.name}' must be a UUID")
            if fspec.set and not isinstance(value, list):
                result.errors.append(f"{obj.path}: '{fspec.name}' must be a list (a set)")


def _app_matches(registry: Registry, result: Verified, folder: str | None) -> None:
    meta = result.metadata
    app = next((o for o in result.objs if o.kind == registry.app.kind), None)
    if meta is None or app is None:
        return
    where = app.path
    if meta.app.id != app.id:
        result.errors.append(f"{METADATA}: app.id {meta.app.id} is not the id in {where}")
    if meta.app.name != app.name:
        result.errors.append(f"{METADATA}: app.name {meta.app.name!r} is not the name in {where}")
    if folder is not None and meta.app.folder != folder:
        result.errors.append(f"{METADATA}: app.folder {meta.app.folder!r} is not {folder!r}")


def _references(registry: Registry, result: Verified) -> None:
    checked = validate(registry, result.objs, ())
    result.errors.extend(e.replace(_ELSEWHERE, "not in the package") for e in checked.errors)
    result.reference_warnings.extend(
        w.replace(_ELSEWHERE, "neither in the package nor built in")
        + " (it imports as a reference to a missing object; importing that later repairs it)"
        for w in checked.warnings
    )
