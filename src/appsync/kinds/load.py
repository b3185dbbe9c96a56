"""Loading platforms: ``manifests/<platform>/platform.yaml`` and one manifest per kind."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from appsync import yamlio
from appsync.errors import ConfigError
from appsync.fsio import write_atomic
from appsync.kinds.spec import KindSpec, PlatformSpec, Registry

PLATFORM_FILE = "platform.yaml"
DEFAULT_PLATFORM = "reference"


def manifests_dir() -> Path:
    """The manifests shipped with appsync: the repository's top-level folder in a checkout,
    ``appsync/manifests`` inside an installed wheel."""
    source = Path(__file__).resolve().parents[3] / "manifests"
    if source.is_dir():
        return source
    return Path(str(importlib.resources.files("appsync") / "manifests"))


def platform_names() -> tuple[str, ...]:
    root = manifests_dir()
    return tuple(sorted(p.parent.name for p in root.glob(f"*/{PLATFORM_FILE}")))


def cache_dir() -> Path | None:
    """Where appsync keeps what it can compute again (``None``: nowhere)."""
    if os.environ.get("APPSYNC_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "appsync"


def _documents(folder: Path) -> dict[str, Any]:
    """Every manifest of ``folder`` as plain data. Parsing YAML in pure Python costs more
    than the rest of a small command's start-up, so the parsed documents are kept in the
    user's cache, by the digest of the files' names and bytes: a changed manifest is parsed
    again, and a cache that cannot be read or written is only slower."""
    paths = sorted(folder.glob("*.yaml"))
    try:
        sources = {path.name: path.read_bytes() for path in paths}
    except OSError as exc:
        raise ConfigError(f"{folder}: cannot read: {exc.strerror}") from exc
    digest = hashlib.sha256()
    for name, data in sources.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    where = cache_dir()
    cached = (
        where / "manifests" / f"{folder.name}-{digest.hexdigest()[:32]}.json" if where else None
    )
    if cached is not None:
        try:
            documents = json.loads(cached.read_bytes())
            if isinstance(documents, dict) and set(documents) == set(sources):
                return documents
        except (OSError, ValueError):
            pass
    documents = {name: _parse(folder / name, data) for name, data in sources.items()}
    if cached is not None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            text = json.dumps(documents)
            # Kept only when JSON gives back exactly what YAML gave (YAML allows keys and
            # values JSON has not, which validation must still see as they are).
            if json.loads(text) == documents:
                cached.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(cached, text.encode("utf-8"))
    return documents


def _parse(path: Path, data: bytes) -> Any:
    try:
        return yamlio.load_text(data.decode("utf-8"), str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from exc


def _validated(
    model: type[PlatformSpec] | type[KindSpec], path: Path, data: Any
) -> PlatformSpec | KindSpec:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc


def load_registry(folder: Path) -> Registry:
    """The platform in ``folder``: its platform.yaml and every kind manifest beside it."""
    spec_file = folder / PLATFORM_FILE
    if not spec_file.is_file():
        raise ConfigError(f"{folder}: no {PLATFORM_FILE}: not a platform folder")
    documents = _documents(folder)
    platform = _validated(PlatformSpec, spec_file, documents[PLATFORM_FILE])
    assert isinstance(platform, PlatformSpec)
    kinds: list[KindSpec] = []
    for name, data in documents.items():
        if name == PLATFORM_FILE:
            continue
        path = folder / name
        kind = _validated(KindSpec, path, data)
        assert isinstance(kind, KindSpec)
        if kind.category not in platform.categories:
            raise ConfigError(f"{path}: category: must be one of {', '.join(platform.categories)}")
        if platform.app_scope == "column" and kind.scope == "app" and kind.app_field is None:
            raise ConfigError(f"{path}: an app-scoped kind of this platform needs 'app_id'")
        kinds.append(kind)
    if not kinds:
        raise ConfigError(f"{folder}: no kind manifests found")
    roots = [k for k in kinds if k.scope == "app_root"]
    if len(roots) != 1:
        raise ConfigError(f"{folder}: exactly one kind must have scope app_root")
    names = {k.kind for k in kinds}
    for kind in kinds:
        for ref in kind.references:
            if ref.kind and ref.kind not in names:
                raise ConfigError(f"{folder}/{kind.kind}.yaml: references unknown kind {ref.kind}")
    return Registry(platform, kinds)


@functools.cache
def registry(platform: str = DEFAULT_PLATFORM) -> Registry:
    """The registry of a shipped platform, loaded once."""
    folder = manifests_dir() / platform
    if not (folder / PLATFORM_FILE).is_file():
        known = ", ".join(platform_names())
        raise ConfigError(f"unknown platform '{platform}' (known: {known})")
    return load_registry(folder)
