"""Packages: tree or live instance -> package (pack, export --zip); package -> verified tree
(verify, unpack); package -> plan + apply on a target (import). Wires the package adapter
to the canonical tree, the instance reader and the plan/apply core."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from appsync import __version__
from appsync.canonical.tree import (
    APP_FILE,
    APPS_ROOT,
    kind_of_path,
    parse,
    render,
    render_object,
    sidecar_paths,
)
from appsync.clock import now_utc
from appsync.errors import AppsyncError, PackageError, RepoError, TreeError
from appsync.fsio import read_tree
from appsync.gitstore import open_repo
from appsync.instance.connect import Instance
from appsync.instance.reader import read_history, read_objects, read_snapshot
from appsync.kinds import Registry
from appsync.limits import tree_bounds
from appsync.model import Obj
from appsync.package import (
    CHECKSUMS,
    IMPORT_CONFIG,
    METADATA,
    README,
    AppInfo,
    ImportConfig,
    Limits,
    Metadata,
    Verified,
    limits_from_env,
    package_objects,
    package_scope,
    read_archive,
    verify_entries,
    write_file,
    write_tree,
    zip_bytes,
)
from appsync.package.layout import (
    PackageSource,
    checksums_bytes,
    config_bytes,
    metadata_bytes,
    model_problems,
    readme,
)
from appsync.package.names import show
from appsync.plan.model import Plan, Source
from appsync.usecases.apply import ApplyOptions, ApplyOutcome, Interaction, actor, run_apply
from appsync.usecases.export import build_history, select_apps
from appsync.usecases.plan import Desired, plan_against

#: ``exported_at`` of a tree whose objects carry no history.
EPOCH = "1980-01-01T00:00:00Z"


@dataclass(frozen=True)
class PackOptions:
    tag: str | None = None
    environment: str = "DEV"
    notes: str = ""
    exported_at: str | None = None
    exported_by: str | None = None
    config: ImportConfig = field(default_factory=ImportConfig)
    include_holders: bool = False


@dataclass
class PackResult:
    path: Path
    metadata: Metadata
    files: int
    size: int
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- pack


def pack_folder(registry: Registry, app_dir: Path, out: Path, options: PackOptions) -> PackResult:
    """Pack ``<repo>/apps/<app>`` with the instance-wide objects it refers to."""
    app_dir = Path(os.path.abspath(app_dir))
    if not (app_dir / APP_FILE).is_file() or app_dir.parent.name != APPS_ROOT:
        expected = f"<repo>/{APPS_ROOT}/<app>/{APP_FILE}"
        raise AppsyncError(f"{app_dir}: not an app folder (expected {expected})")
    root = app_dir.parent.parent
    shared = {spec.folder for spec in registry if spec.scope == "instance"}
    folders = [f"{APPS_ROOT}/{app_dir.name}", *sorted(shared)]
    try:
        files = dict(read_tree(root, folders, bounds=tree_bounds()))
    except TreeError as exc:
        raise AppsyncError(exc.problems[0], exc.problems) from exc

    def source(tree: dict[str, bytes]) -> PackageSource:
        return git_source(registry, root, folders, app_dir.name, tree, options)

    return _pack(registry, files, app_dir.name, out, options, default_at=None, source=source)


def export_zip(
    instance: Instance, registry: Registry, app: str, out: Path, options: PackOptions
) -> PackResult:
    """Pack an app straight from a live instance: no Git, no work tree."""
    live = read_objects(instance, registry)
    (app_id,) = sorted(select_apps(registry, live, [app]))[:1]
    history = read_history(instance, registry)
    origin, at = f"instance:{instance.name}", now_utc()
    placed = [
        replace(o, history=build_history(o, (), history.get(o.key, []), origin, at)) for o in live
    ]
    rendered = render(registry, placed)
    folder = rendered.paths[(registry.app.kind, app_id)].split("/")[1]
    if options.environment == "DEV" and instance.name.upper() in ("STAGING", "PROD"):
        options = replace(options, environment=instance.name.upper())
    return _pack(
        registry,
        rendered.files,
        folder,
        out,
        options,
        default_at=at,
        source=lambda _: PackageSource(instance=instance.name),
    )


def _select(
    registry: Registry, files: dict[str, bytes], folder: str, options: PackOptions
) -> tuple[Obj, list[Obj], dict[str, bytes], list[str]]:
    """What a package of ``folder`` holds: its app, the objects, the tree, and warnings
    about files left out."""
    prefix = f"{APPS_ROOT}/{folder}/"
    warnings: list[str] = []
    owned = {p for p in files if not p.startswith(APPS_ROOT) or p.startswith(prefix)}
    files = {p: d for p, d in files.items() if p in owned}
    objs = parse(registry, files)
    app = next(o for o in objs if o.path == f"{prefix}{APP_FILE}")
    chosen = package_objects(registry, objs, app.id, include_holders=options.include_holders)
    tree: dict[str, bytes] = {}
    for obj in chosen:
        assert obj.path is not None
        if options.config.options.include_audit:
            tree[obj.path] = files[obj.path]
        else:
            spec = registry.get(obj.kind)
            tree[obj.path] = render_object(spec, replace(obj, history=()), obj.path)[obj.path]
        for sidecar in sorted(sidecar_paths({obj.path: files[obj.path]}, registry)):
            tree[sidecar] = files[sidecar]
    referenced = sidecar_paths(files, registry)
    for path in sorted(p for p in files if p.startswith(prefix) and p not in tree):
        if kind_of_path(registry, path) is None and path not in referenced:
            warnings.append(f"{path}: not packed (no kind owns it and no object names it)")
    return app, chosen, tree, warnings


def git_source(
    registry: Registry,
    root: Path,
    folders: list[str],
    folder: str,
    tree: dict[str, bytes],
    options: PackOptions,
) -> PackageSource:
    """The commit a folder pack comes from, and whether the package holds exactly what
    packing that commit would (no uncommitted change to anything it packs)."""
    try:
        repo = open_repo(root)
    except RepoError:
        return PackageSource()
    head = repo.head_commit
    if head is None:
        return PackageSource()
    try:
        committed = repo.files_at(head, folders, bounds=tree_bounds())
        clean = _select(registry, committed, folder, options)[2] == tree
    except (AppsyncError, StopIteration):
        clean = False
    return PackageSource(commit=head, clean=clean)


def _pack(
    registry: Registry,
    files: dict[str, bytes],
    folder: str,
    out: Path,
    options: PackOptions,
    *,
    default_at: str | None,
    source: Callable[[dict[str, bytes]], PackageSource],
) -> PackResult:
    app, chosen, tree, warnings = _select(registry, files, folder, options)
    try:
        metadata = _metadata(registry, options, app, folder, chosen, tree, default_at)
        metadata = metadata.model_copy(update={"source": source(tree)})
    except ValidationError as exc:
        raise AppsyncError("; ".join(model_problems("metadata", exc))) from exc
    entries = {
        METADATA: metadata_bytes(metadata),
        IMPORT_CONFIG: config_bytes(options.config),
        README: readme(metadata, options.config, len(tree)),
    }
    entries[CHECKSUMS] = checksums_bytes({**entries, **tree})
    ordered = [(n, entries[n]) for n in (METADATA, IMPORT_CONFIG, CHECKSUMS, README)]
    ordered += sorted(tree.items())
    checked = verify_entries(registry, dict(ordered))
    name = out.name
    if checked.errors:
        raise PackageError(
            f"{name}: the package would not verify", [f"{name}: {e}" for e in checked.errors]
        )
    data = zip_bytes(ordered)
    write_file(out, data)
    warnings += checked.warnings + checked.reference_warnings
    limits = limits_from_env()
    if sum(len(d) for _, d in ordered) > limits.max_size:
        warnings.append(f"{name}: larger than APPSYNC_MAX_IMPORT_SIZE: import will refuse it")
    return PackResult(out, metadata, len(tree), len(data), warnings)


def _metadata(
    registry: Registry,
    options: PackOptions,
    app: Obj,
    folder: str,
    chosen: list[Obj],
    tree: dict[str, bytes],
    default_at: str | None,
) -> Metadata:
    counts: dict[str, int] = {}
    for obj in chosen:
        counts[obj.kind] = counts.get(obj.kind, 0) + 1
    times = [h.at for o in chosen for h in o.history]
    return Metadata(
        appsync_version=__version__,
        platform=registry.name,
        app=AppInfo(id=app.id, name=app.name, folder=folder),
        tag=options.tag or default_tag(tree),
        environment=options.environment.upper(),  # type: ignore[arg-type]
        exported_at=options.exported_at or default_at or max(times, default=EPOCH),
        exported_by=options.exported_by or actor(),
        notes=options.notes,
        objects={s.kind: counts[s.kind] for s in registry if s.kind in counts},
    )


def default_tag(tree: dict[str, bytes]) -> str:
    """``tree-<12 hex>``: a digest of the tree's paths and bytes, for untagged packs."""
    digest = hashlib.sha256()
    for path, data in sorted(tree.items()):
        digest.update(f"{path}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    return f"tree-{digest.hexdigest()[:12]}"


# ---------------------------------------------------------------------------- read


def verify_package(
    registry: Registry | None,
    path: Path,
    *,
    integrity: bool | None = None,
    limits: Limits | None = None,
) -> Verified:
    """Read and verify a package; :class:`PackageError` with every problem if it fails."""
    archive = read_archive(path, limits or limits_from_env())
    name = show(path.name)
    if archive.fatal:
        problems = [show(f"{name}: {p}") for p in archive.problems]
        raise PackageError(problems[0], problems)
    verified = verify_entries(
        registry,
        archive.files,
        names=archive.names,
        problems=archive.problems,
        integrity=integrity,
    )
    # Every line names what an attacker may have chosen: escaped, so it stays one line.
    verified.warnings = [show(f"{name}: {w}") for w in verified.warnings]
    verified.reference_warnings = [show(f"{name}: {w}") for w in verified.reference_warnings]
    if verified.errors or verified.metadata is None:
        problems = [show(f"{name}: {e}") for e in verified.errors] or [f"{name}: no metadata"]
        raise PackageError(problems[0], problems)
    return verified


def unpack(registry: Registry | None, path: Path, out: Path) -> Verified:
    """The package's canonical tree into ``out``, byte for byte; nothing at all is written
    unless the whole package verifies."""
    verified = verify_package(registry, path)
    write_tree(verified.tree, out)
    return verified


# ---------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportSettings:
    """Command-line choices; ``None`` takes the environment's default from appsync.yaml,
    then the package's import_config.json."""

    conflicts: str | None = None
    transaction: str | None = None
    allow_role_creation: bool | None = None
    allow_mass_delete: bool = False
    yes: bool = False
    dry_run: bool = False
    lock_timeout: float = 0.0


def origin_of(metadata: Metadata) -> str:
    return f"package:{metadata.app.name}@{metadata.tag}"


def apply_options(
    verified: Verified,
    settings: ImportSettings,
    command: str,
    environment_default: Callable[[str], Any],
) -> tuple[ApplyOptions, bool]:
    config = verified.config

    def pick(name: str, given: Any, packaged: Any) -> Any:
        if given is not None:
            return given
        configured = environment_default(name)
        return configured if configured is not None else packaged

    options = ApplyOptions(
        conflicts=pick("conflicts", settings.conflicts, config.conflicts),
        transaction=pick("transaction", settings.transaction, config.transaction),
        allow_mass_delete=settings.allow_mass_delete,
        yes=settings.yes,
        dry_run=settings.dry_run,
        lock_timeout=settings.lock_timeout,
        command=command,
    )
    roles = settings.allow_role_creation
    return options, config.options.allow_role_creation if roles is None else roles


def import_package(
    instance: Instance,
    registry: Registry,
    verified: Verified,
    options: ApplyOptions,
    ui: Interaction,
    *,
    prune: bool = False,
    allow_role_creation: bool = True,
) -> ApplyOutcome:
    """Plan the package against the target (inside the lock) and apply it like ``apply``."""
    assert verified.metadata is not None
    source = Source(origin=origin_of(verified.metadata))
    desired = Desired(verified.objs, source)
    app_id = verified.metadata.app.id

    def get_plan() -> Plan:
        live, states = read_snapshot(instance, registry)
        scoped, scoped_states = package_scope(registry, verified.objs, app_id, live, states)
        plan = plan_against(
            instance,
            registry,
            desired,
            scoped,
            scoped_states,
            repo=None,
            prune=prune,
            merge=options.conflicts == "merge",
        )
        if not allow_role_creation:
            _refuse_role_creation(registry, plan)
        return plan

    return run_apply(instance, registry, get_plan, options, ui)


def _refuse_role_creation(registry: Registry, plan: Plan) -> None:
    roles = {spec.kind for spec in registry if spec.category == "roles"}
    creates = [c for c in plan.changes if c.action == "create" and c.kind in roles]
    if creates:
        problems = [
            f"{c.path or c.label()}: {c.label()} does not exist on {plan.target.name} and "
            "role creation is off (import_config.json or --no-allow-role-creation; "
            "--allow-role-creation overrides)"
            for c in creates
        ]
        raise AppsyncError(problems[0], problems)
