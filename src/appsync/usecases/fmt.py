"""fmt: put hand-edited object files into canonical form (sorted keys and sets, two-space
indent, one final newline). Only object files are touched, never sidecars."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from appsync.canonical.jsonform import canonical_json, parse_json
from appsync.canonical.revs import sort_set
from appsync.canonical.tree import kind_of_path
from appsync.errors import TreeError, UsageError
from appsync.kinds import KindSpec, Registry


@dataclass
class FmtResult:
    checked: int = 0
    changed: list[Path] = field(default_factory=list)


def canonical_form(spec: KindSpec, data: bytes, where: str) -> bytes:
    document = parse_json(data, where)
    if isinstance(document, dict):
        for name, spec_field in spec.fields.items():
            if spec_field.set and name in document:
                document[name] = sort_set(document[name])
    return canonical_json(document)


def object_files(registry: Registry, paths: Iterable[Path]) -> Iterator[tuple[Path, KindSpec]]:
    """Object files under ``paths`` with their kind, found from where each file sits."""
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        candidates = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        for candidate in candidates:
            if ".git" in candidate.parts:
                continue
            spec = _kind_of(registry, candidate.resolve())
            if spec is not None:
                yield candidate, spec


def _kind_of(registry: Registry, path: Path) -> KindSpec | None:
    parts = path.parts
    for start in range(len(parts) - 1, -1, -1):
        spec = kind_of_path(registry, "/".join(parts[start:]))
        if spec is not None:
            return spec
    return None


def fmt(registry: Registry, paths: Iterable[Path], *, check: bool) -> FmtResult:
    result = FmtResult()
    problems: list[str] = []
    updates: list[tuple[Path, bytes]] = []
    for path, spec in object_files(registry, paths):
        result.checked += 1
        data = path.read_bytes()
        try:
            canonical = canonical_form(spec, data, str(path))
        except TreeError as exc:
            problems.extend(exc.problems)
            continue
        if canonical != data:
            result.changed.append(path)
            updates.append((path, canonical))
    if problems:
        raise TreeError(problems[0], problems)
    if not check:
        for path, canonical in updates:
            path.write_bytes(canonical)
    return result
