"""validate: every check of a tree that needs no database — its structure, references
inside it, conflict keys, keyed lists, bindings in their fields, file kinds and sizes — for
CI jobs and pre-commit hooks without credentials. Pure over the tree's files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from appsync.bindings import misplaced
from appsync.canonical.tree import managed_roots
from appsync.gitstore import GitRepo
from appsync.kinds import Registry
from appsync.validate import validate

OUTSIDE = "neither in the repo nor on the target"


@dataclass
class Checked:
    objects: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_tree(repo: GitRepo, registry: Registry, ref: str | None = None) -> Checked:
    """Every problem and warning of the tree (the work tree, or ``ref``); a tree that
    cannot be read at all raises :class:`TreeError`."""
    roots = managed_roots(registry)
    cache = repo.parse_cache(registry)
    if ref:
        files: Mapping[str, bytes] = repo.files_at(repo.resolve(ref), roots)
    else:
        files = repo.work_tree_files(roots, cache=cache)
    objs = repo.parse(registry, files, cache)
    problems: list[str] = []
    warnings: list[str] = []
    result = validate(registry, objs, ())
    for error in result.errors:
        # A reference to an object only a target has is known only there: plan checks it.
        (warnings if OUTSIDE in error else problems).append(
            error.replace(OUTSIDE, "not in the repo (plan checks that the target has it)")
        )
    warnings += result.warnings
    problems += misplaced(registry, objs)
    return Checked(len(objs), len(files), problems, warnings)
