"""The canonical tree (DESIGN section 3): model objects <-> ``{posix path: bytes}``. Pure.

Layout, for every kind of the registry:

* ``scope: instance`` -> ``<folder>/<slug>.json`` (``admin/roles/admins.json``)
* ``scope: app_root`` -> ``apps/<app-slug>/app.json``
* ``scope: app``      -> ``apps/<app-slug>/<folder>/<slug>.json``

Sidecar fields are written beside the JSON as ``<slug>.<ext>`` and referenced from it as
``{"sidecar": "<file name>"}``. Object files are exactly the ``*.json`` files whose stem has no
dot; a sidecar that would end in ``.json`` is named ``<slug>.data.json`` so the two never meet.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appsync.canonical.ids import derived_id
from appsync.canonical.jsonform import canonical_json, parse_json
from appsync.canonical.revs import make_obj
from appsync.canonical.slugs import unique_slugs
from appsync.errors import TreeError
from appsync.kinds import FieldSpec, KindSpec, Registry
from appsync.model import HistoryEntry, Obj

if TYPE_CHECKING:
    from appsync.canonical.cache import ParseCache

APPS_ROOT = "apps"
APP_FILE = "app.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EXT = re.compile(r"[^a-z0-9]+")


def managed_roots(registry: Registry) -> tuple[str, ...]:
    """Top-level folders that appsync owns in a repository."""
    roots = {APPS_ROOT}
    for spec in registry:
        if spec.scope == "instance":
            roots.add(spec.folder.split("/")[0])
    return tuple(sorted(roots))


def is_object_file(name: str) -> bool:
    return name.endswith(".json") and "." not in name[: -len(".json")]


# ---------------------------------------------------------------------------- paths


def assign_paths(
    registry: Registry, objs: Iterable[Obj], *, only: Container[tuple[str, str]] | None = None
) -> dict[tuple[str, str], str]:
    """The tree path of every object's JSON file, keyed by ``(kind, id)``; with ``only``,
    of those objects (and the others of their folders: slugs are unique in a folder).

    Objects whose app is not among ``objs`` get no path (they cannot be placed).
    """
    objs = list(objs)
    app_kind = registry.app
    apps = [o for o in objs if o.kind == app_kind.kind]
    app_slugs = unique_slugs([(a.id, a.name) for a in apps], fallback="app")
    paths: dict[tuple[str, str], str] = {}
    for app in apps:
        paths[app.key] = f"{APPS_ROOT}/{app_slugs[app.id]}/{APP_FILE}"

    folders: dict[tuple[str, str], list[Obj]] = {}
    for obj in objs:
        spec = registry.get(obj.kind)
        if spec.scope == "instance":
            folders.setdefault((spec.kind, spec.folder), []).append(obj)
        elif spec.scope == "app" and obj.app_id in app_slugs:
            folder = f"{APPS_ROOT}/{app_slugs[obj.app_id]}/{spec.folder}"
            folders.setdefault((spec.kind, folder), []).append(obj)
    if only is not None:  # the folders of those objects only
        folders = {f: m for f, m in folders.items() if any(o.key in only for o in m)}
    for (kind, folder), members in folders.items():
        spec = registry.get(kind)
        names = [(o.id, _slug_source(spec, o.name)) for o in members]
        slugs = unique_slugs(names, fallback=kind)
        for obj in members:
            paths[obj.key] = f"{folder}/{slugs[obj.id]}.json"
    return paths


def _slug_source(spec: KindSpec, name: str) -> str:
    if spec.slug_drop_extension and "." in name.lstrip("."):
        return name.rsplit(".", 1)[0]
    return name


def sidecar_name(field: FieldSpec, stem: str, content: Mapping[str, Any]) -> str:
    sidecar = field.sidecar
    assert sidecar is not None
    if sidecar.ext is not None:
        ext = sidecar.ext
    else:
        source = str(content.get(sidecar.ext_from or "") or "")
        if sidecar.ext_map:
            ext = sidecar.ext_map.get(source.lower(), sidecar.default_ext)
        else:
            ext = source.rsplit(".", 1)[1] if "." in source else sidecar.default_ext
    ext = _EXT.sub("", ext.lower()) or sidecar.default_ext
    if ext == "json":
        ext = "data.json"
    return f"{stem}.{ext}"


# ---------------------------------------------------------------------------- render


@dataclass(frozen=True)
class RenderedTree:
    files: dict[str, bytes]
    paths: dict[tuple[str, str], str]
    skipped: list[Obj]
    #: Object files left as they are (``keep``): their sidecars are in ``files``, they are not.
    kept: set[str] = dataclasses.field(default_factory=set)


def render(
    registry: Registry,
    objs: Iterable[Obj],
    keep: Callable[[Obj, str], bool] | None = None,
) -> RenderedTree:
    """Every object as its JSON file and sidecars, in canonical bytes. An object for which
    ``keep(obj, path)`` holds keeps the file it has at its path: only its sidecars are
    rendered."""
    objs = list(objs)
    paths = assign_paths(registry, objs)
    files: dict[str, bytes] = {}
    skipped: list[Obj] = []
    kept: set[str] = set()
    for obj in objs:
        path = paths.get(obj.key)
        if path is None:
            skipped.append(obj)
            continue
        document = keep is None or not keep(obj, path)
        files.update(render_object(registry.get(obj.kind), obj, path, document=document))
        if not document:
            kept.add(path)
    return RenderedTree(files=files, paths=paths, skipped=skipped, kept=kept)


def render_object(
    spec: KindSpec, obj: Obj, path: str, *, document: bool = True
) -> dict[str, bytes]:
    """The object's JSON file at ``path`` and its sidecars beside it (only the sidecars
    without ``document``)."""
    folder, filename = posixpath.split(path)
    stem = filename[: -len(".json")]
    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for field in spec.content_fields:
        value = obj.content.get(field.name)
        if field.sidecar is not None and value is not None:
            name = sidecar_name(field, stem, obj.content)
            files[f"{folder}/{name}"] = value if isinstance(value, bytes) else value.encode()
            fields[field.name] = {"sidecar": name}
        else:
            fields[field.name] = value
    if document:
        fields["history"] = [h.to_json() for h in obj.history]
        files[path] = canonical_json(fields)
    return files


# ---------------------------------------------------------------------------- parse


def kind_of_path(registry: Registry, path: str) -> KindSpec | None:
    """The kind whose object files live where ``path`` is, if any."""
    parts = path.split("/")
    if not is_object_file(parts[-1]):
        return None
    folder = "/".join(parts[:-1])
    if parts[0] == APPS_ROOT and len(parts) >= 3:
        if len(parts) == 3:
            return registry.app if parts[2] == APP_FILE else None
        inner = "/".join(parts[2:-1])
        for spec in registry:
            if spec.scope == "app" and spec.folder == inner:
                return spec
        return None
    for spec in registry:
        if spec.scope == "instance" and spec.folder == folder:
            return spec
    return None


class _Reads(Mapping[str, bytes]):
    """The files of a tree, noting which ones a parse read (an object file's sidecars)."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.read: list[str] = []

    def __getitem__(self, path: str) -> bytes:
        self.read.append(path)
        return self.files[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def parse_cached(
    registry: Registry,
    spec: KindSpec,
    path: str,
    files: Mapping[str, bytes],
    cache: ParseCache | None,
) -> Obj:
    """One object file, through ``cache`` when there is one (:func:`parse_object`)."""
    if cache is None:
        return parse_object(registry, spec, path, files)
    obj = cache.get(spec, path, files)
    if obj is None:
        reads = _Reads(files)
        obj = parse_object(registry, spec, path, reads)
        cache.put(obj, path, files, reads.read)
    return obj


def parse(
    registry: Registry, files: Mapping[str, bytes], cache: ParseCache | None = None
) -> list[Obj]:
    """Read every object of a tree, reporting all problems at once (:class:`TreeError`).
    With a ``cache``, files whose bytes it has seen before are not parsed again."""
    problems: list[str] = []
    objs: list[Obj] = []
    app_ids: dict[str, str] = {}
    pending: list[tuple[str, Obj]] = []
    for path in sorted(files):
        spec = kind_of_path(registry, path)
        if spec is None:
            continue
        try:
            obj = parse_cached(registry, spec, path, files, cache)
        except TreeError as exc:
            problems.extend(exc.problems)
            continue
        objs.append(obj)
        if spec.scope == "app_root":
            app_ids[path.split("/")[1]] = obj.id
        elif spec.scope == "app":
            pending.append((path.split("/")[1], obj))
    implicit = {o.key: i for i, o in enumerate(objs)}
    for app_slug, obj in pending:
        owner = app_ids.get(app_slug)
        if owner is None:
            problems.append(f"{obj.path}: apps/{app_slug}/{APP_FILE} is missing")
        elif registry.get(obj.kind).app_field is None:
            objs[implicit[obj.key]] = dataclasses.replace(obj, app_id=owner)
        elif obj.app_id != owner:
            problems.append(
                f"{obj.path}: app_id {obj.app_id} is not the id of apps/{app_slug} ({owner})"
            )
    if problems:
        raise TreeError(f"{problems[0]} ({len(problems)} problem(s) in the tree)", problems)
    return objs


def parse_object(registry: Registry, spec: KindSpec, path: str, files: Mapping[str, bytes]) -> Obj:
    """One object file (with its sidecars): every problem at once (:class:`TreeError`).
    A kind that derives its ids may leave ``id`` out; when present it must be that id."""
    document = parse_json(files[path], path)
    if not isinstance(document, dict):
        raise TreeError(f"{path}: expected a JSON object")
    problems: list[str] = []
    known = {f.name for f in spec.content_fields} | {"history"}
    for key in sorted(set(document) - known):
        if key in spec.secret_fields:
            problems.append(f"{path}: '{key}' is a secret and must not be in the tree")
        else:
            problems.append(f"{path}: unknown field '{key}' for kind {spec.kind}")
    derives = spec.identity.strategy != "uuid"
    if not derives and (not isinstance(document.get("id"), str) or not document.get("id")):
        problems.append(f"{path}: 'id' must be a non-empty string")
    folder = posixpath.dirname(path)
    content: dict[str, Any] = {}
    for field in spec.content_fields:
        value = document.get(field.name)
        if field.sidecar is not None and value is not None:
            value = _read_sidecar(path, folder, field, value, files, problems)
        elif value is not None:
            problem = _type_problem(field, value)
            if problem:
                problems.append(f"{path}: '{field.name}' {problem}")
        content[field.name] = value
    history = _parse_history(path, document.get("history", []), problems)
    if derives and not problems:
        expected = derived_id(registry, spec, content)
        given = content.get("id")
        if given is None:
            content["id"] = expected
        elif given != expected:
            key = ", ".join(spec.identity.key) or "kind"
            problems.append(
                f"{path}: 'id' {given} is not the id its {key} gives ({expected}); "
                "leave 'id' out or correct it"
            )
    if problems:
        raise TreeError(problems[0], problems)
    return make_obj(spec, content, history, path)


_TYPES: dict[str, tuple[type, ...]] = {
    "uuid": (str,),
    "string": (str,),
    "text": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
}


def _type_problem(field: FieldSpec, value: Any) -> str | None:
    if field.type == "json" and (field.set or field.keyed_list is not None):
        if not isinstance(value, list):
            return f"must be a list, not {type(value).__name__}"
        if field.set:
            seen = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(seen)) != len(seen):
                return "repeats a value (it is a set)"
        return None
    expected = _TYPES.get(field.type)
    if expected is None:
        return None
    if isinstance(value, bool) and bool not in expected:
        return f"must be {field.type}, not a boolean"
    if not isinstance(value, expected):
        return f"must be {field.type}, not {type(value).__name__}"
    return None


def _read_sidecar(
    path: str,
    folder: str,
    field: FieldSpec,
    value: Any,
    files: Mapping[str, bytes],
    problems: list[str],
) -> Any:
    name = value.get("sidecar") if isinstance(value, dict) and len(value) == 1 else None
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        problems.append(f'{path}: \'{field.name}\' must be {{"sidecar": "<file name>"}}')
        return None
    data = files.get(f"{folder}/{name}")
    if data is None:
        problems.append(f"{path}: sidecar {folder}/{name} of '{field.name}' is missing")
        return None
    if field.type == "bytes":
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(f"{folder}/{name}: not UTF-8 text")
        return None


def _parse_history(path: str, raw: Any, problems: list[str]) -> tuple[HistoryEntry, ...]:
    if not isinstance(raw, list):
        problems.append(f"{path}: 'history' must be a list")
        return ()
    entries: list[HistoryEntry] = []
    for i, item in enumerate(raw):
        if not (
            isinstance(item, dict)
            and all(isinstance(item.get(k), str) for k in ("rev", "at", "origin"))
        ):
            problems.append(f"{path}: history[{i}] must have string rev, at and origin")
            continue
        entries.append(HistoryEntry(rev=item["rev"], at=item["at"], origin=item["origin"]))
    return tuple(entries)


def sidecar_paths(files: Mapping[str, bytes], registry: Registry) -> set[str]:
    """Paths referenced as sidecars by the object files among ``files``."""
    referenced: set[str] = set()
    for path, data in files.items():
        if kind_of_path(registry, path) is None:
            continue
        try:
            document = parse_json(data, path)
        except TreeError:
            continue
        if not isinstance(document, dict):
            continue
        for value in document.values():
            if isinstance(value, dict) and isinstance(value.get("sidecar"), str):
                referenced.add(f"{posixpath.dirname(path)}/{value['sidecar']}")
    return referenced
