"""Loading platforms: ``manifests/<platform>/platform.yaml`` and one manifest per kind."""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from pydantic import ValidationError

from appsync import yamlio
from appsync.errors import ConfigError
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


def _validated(model: type[PlatformSpec] | type[KindSpec], path: Path) -> PlatformSpec | KindSpec:
    data = yamlio.load_file(path)
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
    platform = _validated(PlatformSpec, spec_file)
    assert isinstance(platform, PlatformSpec)
    kinds: list[KindSpec] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == PLATFORM_FILE:
            continue
        kind = _validated(KindSpec, path)
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
