"""plan: desired tree (work tree or a ref) + live snapshot -> validated, frozen Plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from appsync.bindings import Bindings
from appsync.canonical.slugs import slugify
from appsync.canonical.tree import managed_roots
from appsync.clock import now_utc
from appsync.config import CONFIG_FILE, load_config
from appsync.errors import TreeError
from appsync.gitstore import GitRepo
from appsync.heap import hold
from appsync.instance.connect import Instance
from appsync.instance.reader import read_instance_id, read_snapshot
from appsync.kinds import Registry
from appsync.limits import tree_bounds
from appsync.model import Obj, SyncState
from appsync.plan.builder import build_plan, finalize
from appsync.plan.model import Plan, PlanBindings, Source, TargetInfo
from appsync.usecases.merge import merge_conflicts
from appsync.usecases.select import Selected, Selection
from appsync.validate import validate


@dataclass(frozen=True)
class Desired:
    objs: list[Obj]
    source: Source


def load_desired(repo: GitRepo, registry: Registry, ref: str | None = None) -> Desired:
    """The desired objects from ``ref`` (read from the object store) or the work tree."""
    roots = managed_roots(registry)
    cache = repo.parse_cache(registry)
    if ref is not None:
        commit: str | None = repo.resolve(ref)
        assert commit is not None
        files: Mapping[str, bytes] = repo.files_at(commit, roots, bounds=tree_bounds())
        source = Source(commit=commit, ref=ref, dirty=False, origin=f"git:{commit}")
    else:
        commit = repo.head_commit
        files = repo.work_tree_files(roots, bounds=tree_bounds(), cache=cache)
        dirty = repo.is_dirty((*roots, CONFIG_FILE))
        origin = f"git:{commit or 'none'}{'-dirty' if dirty else ''}"
        source = Source(commit=commit, ref=repo.head_ref, dirty=dirty, origin=origin)
    return Desired(repo.parse(registry, files, cache), source)


def app_ids(registry: Registry, names: Iterable[str], *sides: Iterable[Obj]) -> set[str]:
    """The ids of the apps named (by name or folder slug) on any side — the repo's tree or
    the target: an app renamed on one side is still the app the other side names, and from
    then on it is followed by its id."""
    wanted = set(names)
    app_kind = registry.app.kind
    return {
        o.id
        for side in sides
        for o in side
        if o.kind == app_kind and (o.name in wanted or slugify(o.name, "app") in wanted)
    }


def in_scope(registry: Registry, objs: list[Obj], ids: set[str] | None) -> list[Obj]:
    """Only the apps with these ids (all apps for None), plus instance-wide objects."""
    if ids is None:
        return objs
    return [o for o in objs if registry.get(o.kind).scope == "instance" or (o.app_id in ids)]


def make_plan_from(
    registry: Registry,
    desired: Desired,
    live: list[Obj],
    states: dict[tuple[str, str], SyncState],
    *,
    target: TargetInfo,
    prune: bool,
    apps: list[str] | None = None,
    warnings: list[str] | None = None,
    bindings: Bindings | None = None,
) -> Plan:
    """Validate the desired objects against the live ones and build the plan. ``live``
    must already be in placeholder form (the reader does that with the target's bindings)."""
    ids = app_ids(registry, apps, desired.objs, live) if apps else None
    want = in_scope(registry, desired.objs, ids)
    have = in_scope(registry, live, ids)
    (bindings if bindings is not None else Bindings()).require(registry, want)
    wanted = {o.key for o in want}
    # With --prune, objects deleted in Git leave the target: nothing may still refer to them.
    remaining = [o.key for o in live if not (prune and o.key in states and o.key not in wanted)]
    validation = validate(registry, want, remaining, live)
    if validation.errors:
        count = len(validation.errors)
        raise TreeError(f"{validation.errors[0]} ({count} problem(s))", validation.errors)
    return build_plan(
        registry,
        want,
        have,
        states,
        source=desired.source,
        target=target,
        created_at=now_utc(),
        prune=prune,
        warnings=[*(warnings or []), *validation.warnings],
    )


def plan_against(
    instance: Instance,
    registry: Registry,
    desired: Desired,
    live: list[Obj],
    states: dict[tuple[str, str], SyncState],
    *,
    repo: GitRepo | None,
    prune: bool = False,
    apps: list[str] | None = None,
    merge: bool = False,
    select: Selection | None = None,
) -> Plan:
    """The plan of ``desired`` against a snapshot of ``instance``; with ``merge``, conflicts
    that merge cleanly become updates of the merged content (:mod:`appsync.usecases.merge`).
    ``repo`` (when there is one) is searched for merge bases; ``select`` keeps only some
    objects (a partial plan, which says so)."""
    plan = make_plan_from(
        registry,
        desired,
        live,
        states,
        target=TargetInfo(
            name=instance.name,
            url=instance.display,
            instance_id=read_instance_id(instance, registry),
        ),
        prune=prune,
        apps=apps,
        bindings=instance.bindings,
    )
    plan = plan.model_copy(
        update={
            "bindings": PlanBindings(
                environment=instance.bindings.environment,
                values=instance.bindings.fingerprint(),
            )
        }
    )
    if select:
        plan = partial(registry, plan, select, desired.objs, live)
    notes = instance.platform.data_at_risk(instance, plan.changes)
    if notes:
        plan = finalize(
            plan,
            [
                c.model_copy(
                    update={
                        "risk": "critical",
                        "risk_reason": notes[c.key],
                        "reason": f"{c.reason}; {notes[c.key]}" if c.reason else notes[c.key],
                    }
                )
                if c.key in notes
                else c
                for c in plan.changes
            ],
        )
    if merge:
        plan = merge_conflicts(
            registry,
            plan,
            instance=instance,
            repo=repo,
            desired={o.key: o for o in desired.objs},
            live={o.key: o for o in live},
            states=states,
        )
    return plan


def partial(
    registry: Registry, plan: Plan, select: Selection, desired: list[Obj], live: list[Obj]
) -> Plan:
    """Only the selected changes, and a warning that the plan is partial."""
    chosen = Selected(registry, select, desired, live)
    apps = {o.id: o.app_id for o in [*live, *desired]}
    kept = [
        c for c in plan.changes if chosen.keeps(c.key, apps.get(c.id), (c.path, c.previous_path))
    ]
    left = len(plan.changes) - len(kept)
    note = f"partial plan ({select.describe()}): only the selected objects are planned" + (
        f"; {left} other change(s) left out" if left else ""
    )
    plan = plan.model_copy(update={"advice": (note, *plan.advice)})
    return finalize(plan, kept)


def make_plan(
    instance: Instance,
    repo: GitRepo,
    registry: Registry,
    *,
    ref: str | None = None,
    prune: bool = False,
    desired: Desired | None = None,
    merge: bool = False,
    select: Selection | None = None,
) -> Plan:
    """The plan of the repo (work tree or ``ref``) for ``instance``."""
    desired = desired or load_desired(repo, registry, ref)
    live, states = read_snapshot(instance, registry)
    hold((desired, live, states))
    config = load_config(repo.root)
    return plan_against(
        instance,
        registry,
        desired,
        live,
        states,
        repo=repo,
        prune=prune,
        apps=config.apps if config else None,
        merge=merge,
        select=select,
    )
