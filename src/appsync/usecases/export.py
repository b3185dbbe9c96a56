"""Export: live instance -> model -> canonical tree -> Git commit. Read-only on the instance."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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
from appsync.config import CONFIG_FILE, load_config
from appsync.config.edit import set_platform
from appsync.errors import InstanceError, RepoError, TreeError, UsageError
from appsync.fsio import (
    Bounds,
    SizeCheck,
    TreeFiles,
    prune_empty,
    remove_file,
    sweep_temps,
    write_files,
)
from appsync.gitstore import GitRepo
from appsync.heap import hold
from appsync.instance.connect import Instance
from appsync.instance.reader import read_history, read_objects
from appsync.kinds import DEFAULT_PLATFORM, KindSpec, Registry
from appsync.limits import tree_bounds
from appsync.model import HISTORY_LIMIT, HistoryEntry, Obj
from appsync.usecases.plan import app_ids as scope_ids
from appsync.validate import keyed_list_problems

if TYPE_CHECKING:
    from appsync.canonical.cache import ParseCache


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
        matches = [
            s for s in registry if name in (s.kind, s.storage.table, s.folder.split("/")[-1])
        ]
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
    claimed = _claim_platform(repo, registry)
    kinds = select_kinds(registry, components)
    kind_names = {s.kind for s in kinds} | {registry.app.kind}
    live = read_objects(instance, registry, kind_names)

    roots = managed_roots(registry)
    bounds = tree_bounds()
    cache = repo.parse_cache(registry)
    base = repo.head_commit
    if branch is not None:
        if base is None:
            raise UsageError("--branch needs a commit to branch from; export once without it")
        repo.check_new_branch(branch)
        before: Mapping[str, bytes] = repo.files_at(base, roots, bounds=bounds)
    else:
        before = repo.work_tree_files(roots, bounds=bounds, cache=cache)
    existing = _existing(registry, before, cache)
    app_names = list(apps)
    app_ids: set[str] | None = None
    if app_names:
        # Apps are named once and then followed by id: one renamed on the instance is the
        # app the repo holds under its old name (and the other way round).
        app_ids = select_apps(registry, live, app_names, strict=strict_apps)
        app_ids |= scope_ids(registry, app_names, [o for o in existing.values()])
    live = [o for o in live if _wanted(registry, o, app_ids)]
    instance_history = read_history(instance, registry)
    origin, at = f"instance:{instance.name}", now_utc()
    placed = [
        _with_history(o, existing.get(o.key), instance_history.get(o.key, []), origin, at)
        for o in live
    ]
    hold((live, before, existing, placed))
    repeated = keyed_list_problems(registry, live)
    if repeated:
        raise InstanceError(
            f"{instance.name} holds {len(repeated)} list item(s) that a tree cannot hold, "
            "since it tells them apart by key (a key repeated or missing): mend them on the "
            f"instance, then export: {_some(repeated, 3)}"
        )

    def unchanged(obj: Obj, path: str) -> bool:
        """An object whose live content is its file's content keeps its file byte for byte
        (neither rendered nor read again: its bytes are wanted only if it is committed)."""
        known = existing.get(obj.key)
        return known is not None and known.rev == obj.rev and known.path == path and path in before

    rendered = render(registry, placed, keep=unchanged)
    hold(rendered)

    result = ExportResult(objects=len(live) - len(rendered.skipped))
    for obj in rendered.skipped:
        result.warnings.append(f"{obj.label()} ({obj.id}) belongs to no app on the instance")
    ours = _Owned(registry, {s.kind for s in kinds})
    in_scope = _scope(registry, ours, app_ids, before, rendered.paths)
    owned = {p for p in before if in_scope(p)}
    files = {p: b for p, b in rendered.files.items() if ours(p)}
    kept = {p for p in rendered.kept if ours(p)}
    sizes = {p: len(b) for p, b in files.items()} | {p: _size(before, p) for p in kept}
    _within(bounds, sizes)  # the tree this export leaves, kept files included
    result.removed = sorted(owned - sizes.keys())
    result.written = sorted(p for p, data in files.items() if not _holds(before, p, data))
    message = message or f"Export from {instance.name}"
    changes: dict[str, bytes | None] = dict.fromkeys(result.removed)
    changes.update({p: files[p] for p in result.written})

    def record_claim() -> None:
        """Say in appsync.yaml which platform the tree is, once every check has passed (an
        export refused must leave the file as it was)."""
        if claimed is None:
            return
        set_platform(repo.root, registry.name)
        if claimed == "commit":  # part of this commit
            changes[CONFIG_FILE] = (repo.root / CONFIG_FILE).read_bytes()
        else:  # the file holds edits of the user's own: theirs to commit
            result.warnings.append(f"{CONFIG_FILE} now says platform: {registry.name}; commit it")

    if branch is not None:
        record_claim()
        if result.changed:
            assert base is not None
            result.commit = repo.commit_on_branch(branch, base, changes, message)
        return result
    temps = sweep_temps(repo.root, roots)
    if temps:
        result.warnings.append(
            f"removed {len(temps)} temporary file(s) of an interrupted appsync: {_some(temps)}"
        )
    dirty, deleted = repo.changed_paths()
    # Files a killed or --no-commit export already wrote, and files already deleted, that
    # HEAD does not have yet: export's own changes, committed with the rest.
    changes.update({p: files[p] for p in dirty if p in files and p not in changes})
    changes.update({p: before[p] for p in dirty & kept if p not in changes})
    changes.update({p: None for p in deleted if p not in sizes and in_scope(p)})
    if not force:
        clobbered = sorted(dirty & {*result.removed, *result.written})
        clobbered += repo.staged_elsewhere(changes)
        if clobbered:
            raise RepoError(
                f"export would overwrite {len(clobbered)} uncommitted change(s) in "
                f"{repo.root}: {_some(clobbered, 3)}; commit or stash them first, or pass --force"
            )
    record_claim()
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


def _claim_platform(repo: GitRepo, registry: Registry) -> str | None:
    """A repository holds one platform's tree: the first export of another platform's
    instance is to record it in appsync.yaml — committed with the export ("commit"), or
    left to the user when the file has edits of theirs ("leave"); an instance of a
    different platform is refused."""
    config = load_config(repo.root)
    held = config.tree_platform if config is not None else None
    if held is None:
        if config is not None and registry.name != DEFAULT_PLATFORM:
            return "commit" if CONFIG_FILE not in repo.dirty_paths() else "leave"
        return None
    if held != registry.name:
        raise UsageError(
            f"{repo.root} holds a {held} tree (appsync.yaml); the instance is a "
            f"{registry.name} instance: export it into a repository of its own"
        )
    return None


def _some(paths: list[str], shown: int = 5) -> str:
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")


def _scope(
    registry: Registry,
    owned: _Owned,
    app_ids: set[str] | None,
    before: Mapping[str, bytes],
    paths: dict[tuple[str, str], str],
) -> Callable[[str], bool]:
    """Whether a path is in this export's scope (its kinds and apps)."""
    if app_ids is None:
        return owned
    app_kind = registry.app.kind
    slugs = {paths[(app_kind, i)].split("/")[1] for i in app_ids if (app_kind, i) in paths}
    slugs |= {p.split("/")[1] for p, (_, i) in _app_files(registry, before) if i in app_ids}
    return lambda p: owned(p, slugs)


def _wanted(registry: Registry, obj: Obj, app_ids: set[str] | None) -> bool:
    spec = registry.get(obj.kind)
    return app_ids is None or spec.scope == "instance" or obj.app_id in app_ids


def _with_history(
    obj: Obj, existing: Obj | None, entries: list[HistoryEntry], origin: str, at: str
) -> Obj:
    """The live object with its history: the file's own when the content is the file's
    (nothing changed, so nothing is rewritten), else the live rev in front of it."""
    from dataclasses import replace

    if existing is not None and existing.rev == obj.rev:
        return replace(obj, history=existing.history)
    history = existing.history if existing is not None else ()
    return replace(obj, history=build_history(obj, history, entries, origin, at))


def _existing(
    registry: Registry, files: Mapping[str, bytes], cache: ParseCache
) -> dict[tuple[str, str], Obj]:
    """The objects of the files already in the tree (through the repository's parse
    cache); unreadable files are skipped (export rewrites them)."""
    from appsync.canonical.tree import parse_cached

    found: dict[tuple[str, str], Obj] = {}
    for path in files:
        spec = kind_of_path(registry, path)
        if spec is None:
            continue
        try:
            obj = parse_cached(registry, spec, path, files, cache)
        except TreeError:
            continue
        found[obj.key] = obj
    cache.save()
    return found


def _size(files: Mapping[str, bytes], path: str) -> int:
    """How many bytes the file at ``path`` has (a work tree knows without reading it)."""
    if isinstance(files, TreeFiles):
        return files.signatures[path][0]
    return len(files[path])


def _holds(files: Mapping[str, bytes], path: str, data: bytes) -> bool:
    """Whether the file at ``path`` has exactly ``data``."""
    if isinstance(files, TreeFiles):
        return files.holds(path, data)
    return files.get(path) == data


def _app_files(registry: Registry, files: Mapping[str, bytes]) -> list[tuple[str, tuple[str, str]]]:
    result = []
    for path in files:
        if kind_of_path(registry, path) is registry.app:
            try:
                obj = parse_object(registry, registry.app, path, files)
            except TreeError:
                continue
            result.append((path, obj.key))
    return result


class _Owned:
    """Whether export manages a path for these kinds and apps (``None``: every app): the
    kinds' folders gathered once, then one look per path."""

    def __init__(self, registry: Registry, kinds: set[str]) -> None:
        chosen = [spec for spec in registry if spec.kind in kinds]
        self.instance_folders = {s.folder for s in chosen if s.scope == "instance"}
        self.app_folders = {s.folder for s in chosen if s.scope == "app"}
        self.app_root = any(s.scope == "app_root" for s in chosen)

    def __call__(self, path: str, app_slugs: set[str] | None = None) -> bool:
        if path.rpartition("/")[0] in self.instance_folders:
            return True
        parts = path.split("/")
        if parts[0] != APPS_ROOT or len(parts) < 3:
            return False
        if app_slugs is not None and parts[1] not in app_slugs:
            return False
        if self.app_root and len(parts) == 3 and parts[2] == APP_FILE:
            return True
        return "/".join(parts[2:-1]) in self.app_folders


def _within(bounds: Bounds, sizes: dict[str, int]) -> None:
    """Export writes nothing that plan would then refuse to read (``sizes``: the bytes of
    each file of the tree it leaves)."""
    check = SizeCheck(bounds, verb="export")
    for path, size in sorted(sizes.items()):
        check.admit(path, size)
    if check.problems:
        raise TreeError(check.problems[0], check.problems)


def _write(root: Path, removed: list[str], files: dict[str, bytes]) -> None:
    """Removals first, then each file atomically: a killed export leaves every file either
    as it was or as export wanted it, never empty or half written."""
    for path in removed:
        remove_file(root / path, display=path)
        prune_empty(root, (root / path).parent)
    write_files([(root / path, data, path) for path, data in sorted(files.items())])
