"""apply: take the lock, (re)build or load the plan, resolve conflicts, confirm, evaluate
the ordered units, and record one audit row."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from appsync.apply.evaluator import Adopt, ApplyFailed, ApplyReport, bound, evaluate
from appsync.apply.stages import Step, build_units, step_for
from appsync.bindings import names_in
from appsync.choices import Mode, Strategy
from appsync.clock import now_utc
from appsync.errors import AppsyncError, ConflictError, UsageError
from appsync.instance.connect import Instance
from appsync.instance.lock import apply_lock
from appsync.instance.platforms import Notice
from appsync.instance.reader import read_instance_id
from appsync.kinds import Registry
from appsync.paths import values_at
from appsync.plan.model import Change, Plan

Resolution = Literal["repo", "live", "skip", "abort"]


class Interaction(Protocol):
    """How apply talks to a person (or to nobody, in CI)."""

    @property
    def interactive(self) -> bool: ...

    def show_plan(self, plan: Plan) -> None: ...

    def resolve(self, change: Change) -> Resolution: ...

    def confirm(self, question: str) -> bool: ...

    def progress(self, message: str) -> None: ...


@dataclass
class ApplyOptions:
    conflicts: Strategy = "prompt"
    transaction: Mode = "full"
    allow_mass_delete: bool = False
    yes: bool = False
    dry_run: bool = False
    lock_timeout: float = 0.0
    command: str = "apply"


@dataclass
class ApplyOutcome:
    plan: Plan
    report: ApplyReport | None = None
    skipped: list[Change] = field(default_factory=list)
    adopted: list[Change] = field(default_factory=list)
    written: list[Change] = field(default_factory=list)
    #: Conflicts a merge could not settle and nobody was there to ask about (exit 3).
    unresolved: list[Change] = field(default_factory=list)
    #: What telling the running platform about the committed changes gave.
    notice: Notice | None = None

    @property
    def nothing_to_do(self) -> bool:
        return self.report is None


def actor() -> str:
    explicit = os.environ.get("APPSYNC_ACTOR")
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def resolve_conflicts(
    registry: Registry, plan: Plan, strategy: Strategy, ui: Interaction
) -> tuple[list[Step], list[Adopt], list[Change]]:
    """Steps to write, conflicts adopted as live, and objects skipped."""
    conflicts = plan.conflicts
    if strategy == "prompt" and conflicts and not ui.interactive:
        names = "; ".join(f"{c.label()} ({c.path or c.id}): {c.reason}" for c in conflicts)
        raise ConflictError(
            f"{len(conflicts)} conflict(s) and no terminal to ask: {names}; "
            "choose --conflicts overwrite or skip",
            [c.label() for c in conflicts],
        )
    steps: list[Step] = []
    adopted: list[Adopt] = []
    skipped: list[Change] = []
    for change in plan.changes:
        if change.action in ("create", "update", "delete"):
            steps.append(step_for(registry, change, change.action))  # type: ignore[arg-type]
        elif change.action == "ahead" and strategy == "overwrite":
            steps.append(step_for(registry, change, "update"))
        elif change.action == "conflict":
            # skip: the target wins, and is recorded as the agreed version (reported ahead
            # from then on) unless there is no such object on the target to keep.
            choice: Resolution = "repo" if strategy == "overwrite" else "skip"
            if strategy == "skip" and change.from_rev is not None:
                choice = "live"
            if strategy == "prompt" or (strategy == "merge" and ui.interactive):
                choice = ui.resolve(change)
            if choice == "abort":
                raise ConflictError("aborted at a conflict: nothing was written", [change.label()])
            if choice == "repo":
                if change.from_rev is None or change.held_by is not None:
                    raise ConflictError(
                        f"cannot overwrite {change.label()}: {change.reason}; "
                        "rename one of them first",
                        [change.label()],
                    )
                steps.append(step_for(registry, change, "update"))
            elif choice == "live":
                adopted.append(Adopt(change))
            else:
                skipped.append(change)
    steps = _drop_dependents(registry, steps, skipped)
    return steps, adopted, skipped


def _drop_dependents(registry: Registry, steps: list[Step], skipped: list[Change]) -> list[Step]:
    """Leave out writes that refer to an object that was skipped and that the target does
    not have: writing them would leave references dangling on the target."""
    missing = {c.id: c for c in skipped if c.from_rev is None}
    kept = steps
    while missing:
        newly: dict[str, Change] = {}
        remaining = []
        for step in kept:
            spec = registry.get(step.change.kind)
            names = {
                value
                for ref in spec.references
                for value in values_at(step.content or {}, ref.path)
                if isinstance(value, str)
            }
            hit = next((missing[n] for n in sorted(names) if n in missing), None)
            if step.op != "delete" and hit is not None:
                reason = f"refers to {hit.label()}, which was skipped"
                change = step.change.model_copy(update={"reason": reason})
                skipped.append(change)
                newly[change.id] = change
            else:
                remaining.append(step)
        kept, missing = remaining, newly
    return kept


def check_saved_plan(plan: Plan, name: str, instance: Instance) -> None:
    """A saved plan applies only to the instance it was made for, with the binding values it
    was made with: refused (exit 1) before anything is written otherwise."""
    instance_id = read_instance_id(instance, instance.registry)
    if plan.target.instance_id and instance_id:
        if plan.target.instance_id != instance_id:
            raise UsageError(
                f"{name} was made for another instance ({plan.target.url}), not {instance.display}"
            )
    elif plan.target.url and plan.target.url != instance.display:
        raise UsageError(f"{name} was made for {plan.target.url}, not {instance.display}")
    used = sorted({n for c in plan.changes for n in names_in(c.desired or {})})
    if not used:
        return
    made = plan.bindings.values if plan.bindings is not None else {}
    have = instance.bindings.fingerprint()
    env = plan.bindings.environment if plan.bindings is not None else ""
    if not instance.bindings:
        raise UsageError(
            f"{name} needs bindings ({', '.join(used)}) of environment '{env}': apply it to "
            f"that environment, not to {instance.target}, which has none"
        )
    differ = [n for n in used if made.get(n) != have.get(n)]
    if differ:
        shown = ", ".join(f"{n}" for n in differ)
        raise UsageError(
            f"{name} was made with other values of {shown} (environment '{env}') than "
            f"{instance.target} has: make a new plan for it"
        )


def check_mass_delete(plan: Plan, steps: list[Step], allowed: bool) -> None:
    deletes: dict[str, int] = {}
    for step in steps:
        if step.op == "delete":
            app = step.change.app or ""
            deletes[app] = deletes.get(app, 0) + 1
    for app, count in sorted(deletes.items()):
        total = plan.live_counts.get(app, 0)
        if total and count * 2 > total and not allowed:
            label = f"app '{app}'" if app else "the instance-wide objects"
            raise UsageError(
                f"the plan deletes {count} of {total} objects of {label}; "
                "pass --allow-mass-delete if that is intended"
            )


def run_apply(
    instance: Instance,
    registry: Registry,
    get_plan: Callable[[], Plan],
    options: ApplyOptions,
    ui: Interaction,
    *,
    show_plan: bool = True,
) -> ApplyOutcome:
    """The whole apply under the instance's lock. ``get_plan`` runs inside the lock. Before
    anything is written the platform checks what it needs to be told afterwards (an API
    token); after the last commit it is told."""
    if not options.dry_run:
        instance.platform.preflight(instance, instance.api, instance.token)
    outcome = _apply_locked(instance, registry, get_plan, options, ui, show_plan=show_plan)
    if outcome.report is not None and not options.dry_run and outcome.written:
        outcome.notice = instance.platform.notify(instance, instance.api, instance.token)
    return outcome


def _apply_locked(
    instance: Instance,
    registry: Registry,
    get_plan: Callable[[], Plan],
    options: ApplyOptions,
    ui: Interaction,
    *,
    show_plan: bool,
) -> ApplyOutcome:
    with apply_lock(instance, registry, command=options.command, timeout=options.lock_timeout):
        plan = get_plan()
        if show_plan:
            ui.show_plan(plan)
        steps, adopted, skipped = resolve_conflicts(registry, plan, options.conflicts, ui)
        check_mass_delete(plan, steps, options.allow_mass_delete)
        outcome = ApplyOutcome(
            plan=plan,
            skipped=skipped,
            adopted=[a.change for a in adopted],
            written=[s.change for s in steps],
        )
        if options.conflicts == "merge":
            outcome.unresolved = [c for c in skipped if c.action == "conflict"]
            outcome.skipped = [c for c in skipped if c.action != "conflict"]
        if not steps and not adopted:
            return outcome
        if not options.yes and not options.dry_run:
            if not ui.interactive:
                raise UsageError("refusing to apply without --yes: there is no terminal to ask")
            if not ui.confirm(f"Apply {len(steps)} change(s) to {instance.name}?"):
                raise UsageError("apply cancelled: nothing was written")
        for step in steps:  # a placeholder without a value stops the apply before any write
            if step.op != "delete":
                bound(instance.bindings, registry.get(step.change.kind), step)
        units = build_units(registry, steps, options.transaction)
        touched = [s.change for s in steps] + [a.change for a in adopted]
        origin = plan.source.origin or "unknown"
        started = now_utc()
        audit = _auditor(plan, options, started, len(skipped))
        try:
            outcome.report = evaluate(
                instance,
                registry,
                units,
                touched=touched,
                adopted=adopted,
                origin=origin,
                actor=actor(),
                dry_run=options.dry_run,
                report_progress=ui.progress,
                audit=audit,
            )
        except ApplyFailed as failure:
            status = "partial" if failure.report.committed else "failed"
            with contextlib.suppress(AppsyncError), instance.platform.unit(instance) as uow:
                uow.audit(audit(failure.report.counts, status, ""))
            raise
        return outcome


def _auditor(
    plan: Plan, options: ApplyOptions, started: str, skipped: int
) -> Callable[[Mapping[str, int], str, str], dict[str, Any]]:
    """The audit row of an apply (or of one of its units), written with its data."""
    clock = time.monotonic()

    def row(counts: Mapping[str, int], status: str, note: str) -> dict[str, Any]:
        numbers = {k: int(counts.get(k, 0)) for k in ("create", "update", "delete")}
        numbers["skipped"] = skipped
        numbers["conflicts"] = len(plan.conflicts)
        return {
            "timestamp": started,
            "actor": actor(),
            "host": socket.gethostname(),
            "command": f"{options.command} [{note}]" if note else options.command,
            "origin": plan.source.origin or "unknown",
            "commit": plan.source.commit,
            "status": status,
            "counts": numbers,
            "duration_ms": int((time.monotonic() - clock) * 1000),
        }

    return row
