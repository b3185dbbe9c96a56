"""Export: live instance -> model -> canonical tree -> Git commit. Read-only on the instance."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from appsync.canonical.slugs import slugify
from appsync.canonical.tree import (
    APP_FILE,
    APPS_ROOT,
    kind_of_path,
    managed_roots,
    parse_object,
    render,
)
from appsync.clock import now_utc
from appsync.errors import RepoError, TreeError, UsageError
from appsync.fsio import Bounds, SizeCheck, prune_empty, remove_file, sweep_temps, write_files
from appsync.gitstore import GitRepo
from appsync.instance.connect import Instance
from appsync.instance.reader import read_history, read_objects
from appsync.kinds import KindSpec, Registry
from appsync.model import HISTORY_LIMIT, HistoryEntry, Obj
from appsync.package.limits import tree_bounds


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    objects: int = 0
    commit: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def select_kinds(registry: Registry, components: Iterable[str] | None) -> list[KindSpec]:
    if not components:
        return list(registry)
    wanted: list[KindSpec] = []
    for name in components:
        matches = [s for s in registry if name in (s.kind, s.table, s.folder.split("/")[-1])]
        if not matches:
            raise UsageError(f"unknown component '{name}' (kinds: {', '.join(registry.names)})")
        wanted.extend(m for m in matches if m not in wanted)
    return wanted


def select_apps(
    registry: Registry, live: list[Obj], names: Iterable[str], *, strict: bool = True
) -> set[str]:
    """App ids for ``--app`` values, each an app's name or its folder slug; with
    ``strict=False`` (the apps appsync.yaml lists) an app the instance lacks is passed over."""
    apps = [o for o in live if o.kind == registry.app.kind]
    chosen: set[str] = set()
    for name in names:
        found = [a.id for a in apps if name in (a.name, slugify(a.name, "app"))]
        if not found and strict:
            known = ", ".join(sorted(a.name for a in apps)) or "none"
            raise UsageError(f"no app '{name}' on the instance (apps: {known})")
        chosen.update(found)
    return chosen


def build_history(
    live: Obj,
    existing: tuple[HistoryEntry, ...],
    instance_entries: list[HistoryEntry],
    origin: str,
    at: str,
) -> tuple[HistoryEntry, ...]:
    """The live rev in front of what the repo already held, merged with the instance's own
    entries; newest first, one entry per rev, bounded. Deterministic for the same inputs."""
    if existing and existing[0].rev == live.rev:
        head = existing[0]
    else:
        head = next(
            (e for e in instance_entries if e.rev == live.rev),
            HistoryEntry(rev=live.rev, at=at, origin=origin),
        )
    seen = {head.rev}
    tail: list[HistoryEntry] = []
    for entry in (*existing, *instance_entries):
        if entry.rev not in seen:
            seen.add(entry.rev)
            tail.append(entry)
    tail.sort(key=lambda e: e.at, reverse=True)
    return (head, *tail)[:HISTORY_LIMIT]


def export(
    instance: Instance,
    repo: GitRepo,
    registry: Registry,
    *,
    apps: Iterable[str] = (),
    components: Iterable[str] | None = None,
    message: str | None = None,
    commit: bool = True,
    branch: str | None = None,
    force: bool = False,
    strict_apps: bool = True,
) -> ExportResult:
    """Export into the work tree (and commit it), or with ``branch`` commit the live state
    on a new branch from HEAD without touching the current branch, index or work tree."""
    kinds = select_kinds(registry, components)
    kind_names = {s.kind for s in kinds} | {registry.app.kind}
    live = read_objects(instance, registry, kind_names)
    app_names = list(apps)
    app_ids = select_apps(registry, live, app_names, strict=strict_apps) if app_names else None
    live = [o for o in live if _wanted(registry, o, app_ids)]

    roots = managed_roots(registry)
    bounds = tree_bounds()
    base = repo.head_commit
    if branch is not None:
        if base is None:
            raise UsageError("--branch needs a commit to branch from; export once without it")
        repo.check_new_branch(branch)
        before = repo.files_at(base, roots, bounds=bounds)
    else:
        before = repo.work_tree_files(roots, bounds=bounds)
    existing = _existing_history(registry, before)
    instance_history = read_history(instance, registry)
    origin, at = f"instance:{instance.name}", now_utc()
    placed = [
        _with_history(o, existing.get(o.key, ()), instance_history.get(o.key, []), origin, at)
        for o in live
    ]
    rendered = render(registry, placed)

    result = ExportResult(objects=len(live) - len(rendered.skipped))
    for obj in rendered.skipped:
        result.warnings.append(f"{obj.label()} ({obj.id}) belongs to no app on the instance")
    selected = {s.kind for s in kinds}
    in_scope = _scope(registry, selected, app_ids, before, rendered.paths)
    owned = {p for p in before if in_scope(p)}
    files = {p: b for p, b in rendered.files.items() if _owned(registry, p, selected, None)}
    _within(bounds, files)
    result.removed = sorted(owned - set(files))
    result.written = sorted(p for p, data in files.items() if before.get(p) != data)
    message = message or f"Export from {instance.name}"
    changes: dict[str, bytes | None] = dict.fromkeys(result.removed)
    changes.update({p: files[p] for p in result.written})
    if branch is not None:
        if result.changed:
            assert base is not None
            result.commit = repo.commit_on_branch(branch, base, changes, message)
        return result
    temps = sweep_temps(repo.root, roots)
    if temps:
        result.warnings.append(
            f"removed {len(temps)} temporary file(s) of an interrupted appsync: {_some(temps)}"
        )
    dirty = repo.dirty_paths()
    # Files a killed or --no-commit export already wrote, and files already deleted, that
    # HEAD does not have yet: export's own changes, committed with the rest.
    changes.update({p: files[p] for p in dirty if p in files and p not in changes})
    changes.update({p: None for p in repo.deleted_paths() if p not in files and in_scope(p)})
    if not force:
        clobbered = sorted(dirty & {*result.removed, *result.written})
        clobbered += repo.staged_elsewhere(changes)
        if clobbered:
            raise RepoError(
                f"export would overwrite {len(clobbered)} uncommitted change(s) in "
                f"{repo.root}: {_some(clobbered, 3)}; commit or stash them first, or pass --force"
            )
    if commit and changes:
        repo.prepare_commit()
    _write(repo.root, result.removed, {p: files[p] for p in result.written})
    if commit and changes:
        result.commit = repo.commit_paths(changes, message)
    result.warnings.extend(repo.notes)
    others = sorted(p for p in dirty - set(changes) if p.split("/")[0] in roots and p not in temps)
    if others:
        result.warnings.append(
            f"left alone in {', '.join(r + '/' for r in roots)} (not written by appsync, "
            f"so not {'committed' if commit else 'touched'}): {_some(others)}"
        )
    return result


def _some(paths: list[str], shown: int = 5) -> str:
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")


def _scope(
    registry: Registry,
    kinds: set[str],
    app_ids: set[str] | None,
    before: dict[str, bytes],
    paths: dict[tuple[str, str], str],
) -> Callable[[str], bool]:
    """Whether a path is in this export's scope (its kinds and apps)."""
    if app_ids is None:
        return lambda p: _owned(registry, p, kinds, None)
    slugs = {paths[("app", i)].split("/")[1] for i in app_ids if ("app", i) in paths}
    slugs |= {p.split("/")[1] for p, (_, i) in _app_files(registry, before) if i in app_ids}
    return lambda p: _owned(registry, p, kinds, slugs)


def _wanted(registry: Registry, obj: Obj, app_ids: set[str] | None) -> bool:
    spec = registry.get(obj.kind)
    return app_ids is None or spec.scope == "instance" or obj.app_id in app_ids


def _with_history(
    obj: Obj, existing: tuple[HistoryEntry, ...], entries: list[HistoryEntry], origin: str, at: str
) -> Obj:
    from dataclasses import replace

    return replace(obj, history=build_history(obj, existing, entries, origin, at))


def _existing_history(
    registry: Registry, files: dict[str, bytes]
) -> dict[tuple[str, str], tuple[HistoryEntry, ...]]:
    """History per object of the files already in the work tree; unreadable files are
    skipped (export rewrites them)."""
    found: dict[tuple[str, str], tuple[HistoryEntry, ...]] = {}
    for path in files:
        spec = kind_of_path(registry, path)
        if spec is None:
            continue
        try:
            obj = parse_object(spec, path, files)
        except TreeError:
            continue
        found[obj.key] = obj.history
    return found


def _app_files(registry: Registry, files: dict[str, bytes]) -> list[tuple[str, tuple[str, str]]]:
    result = []
    for path in files:
        if kind_of_path(registry, path) is registry.app:
            try:
                obj = parse_object(registry.app, path, files)
            except TreeError:
                continue
            result.append((path, obj.key))
    return result


def _owned(registry: Registry, path: str, kinds: set[str], app_slugs: set[str] | None) -> bool:
    """Whether export manages ``path`` for these kinds and apps (``None``: every app)."""
    parts = path.split("/")
    folder = "/".join(parts[:-1])
    for spec in registry:
        if spec.kind not in kinds:
            continue
        if spec.scope == "instance" and folder == spec.folder:
            return True
        if parts[0] != APPS_ROOT or len(parts) < 3:
            continue
        if app_slugs is not None and parts[1] not in app_slugs:
            continue
        if spec.scope == "app_root" and len(parts) == 3 and parts[2] == APP_FILE:
            return True
        if spec.scope == "app" and "/".join(parts[2:-1]) == spec.folder:
            return True
    return False


def _within(bounds: Bounds, files: dict[str, bytes]) -> None:
    """Export writes nothing that plan would then refuse to read."""
    check = SizeCheck(bounds, verb="export")
    for path, data in sorted(files.items()):
        check.admit(path, len(data))
    if check.problems:
        raise TreeError(check.problems[0], check.problems)


def _write(root: Path, removed: list[str], files: dict[str, bytes]) -> None:
    """Removals first, then each file atomically: a killed export leaves every file either
    as it was or as export wanted it, never empty or half written."""
    for path in removed:
        remove_file(root / path, display=path)
        prune_empty(root, (root / path).parent)
    write_files([(root / path, data, path) for path, data in sorted(files.items())])
