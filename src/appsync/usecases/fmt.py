"""fmt: put hand-edited object files into canonical form (sorted keys and sets, two-space
indent, one final newline). Only object files are touched, never sidecars."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from appsync.canonical.jsonform import canonical_json, parse_json
from appsync.canonical.revs import sort_set
from appsync.canonical.tree import kind_of_path
from appsync.errors import TreeError, UsageError
from appsync.fsio import ONLY_REGULAR, SizeCheck, kind_of_mode, read_regular, write_files
from appsync.kinds import KindSpec, Registry
from appsync.limits import tree_bounds


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


def object_files(
    registry: Registry, paths: Iterable[Path], problems: list[str]
) -> Iterator[tuple[Path, KindSpec]]:
    """Object files under ``paths`` with their kind, found from where each file sits.
    A ``.json`` path that is a link or a special file is a problem, never followed."""
    for path in paths:
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such file or folder")
        candidates = _json_files(path) if path.is_dir() and not path.is_symlink() else [path]
        for candidate in candidates:
            if ".git" in candidate.parts:
                continue
            spec = _kind_of(registry, Path(os.path.abspath(candidate)))
            if spec is None:
                continue
            mode = os.lstat(candidate).st_mode
            if not stat.S_ISREG(mode):
                problems.append(f"{candidate}: {kind_of_mode(mode)}; {ONLY_REGULAR}")
                continue
            yield candidate, spec


def _json_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        links = [d for d in dirnames if d.endswith(".json")]  # a folder or link named *.json
        found.extend(Path(dirpath) / n for n in sorted(filenames + links) if n.endswith(".json"))
    return found


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
    sizes = SizeCheck(tree_bounds())
    for path, spec in object_files(registry, paths, problems):
        result.checked += 1
        if not sizes.admit(str(path), path.lstat().st_size):
            continue
        try:
            data = read_regular(path, str(path), sizes.bounds.max_file)
            canonical = canonical_form(spec, data, str(path))
        except TreeError as exc:
            problems.extend(exc.problems)
            continue
        if canonical != data:
            result.changed.append(path)
            updates.append((path, canonical))
    problems.extend(sizes.problems)
    if problems:
        raise TreeError(problems[0], problems)
    if not check:
        write_files([(path, canonical, str(path)) for path, canonical in updates])
    return result
