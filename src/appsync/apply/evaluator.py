"""Runs units of work against the instance: checks staleness, writes objects, records
history, sync state and the audit row — each unit's records in the unit's own transaction,
so the audit log never misses an apply that wrote. A dry run walks the same units in one
transaction and rolls back."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from appsync.apply.stages import Step, Unit
from appsync.bindings import Bindings, unbound_placeholders
from appsync.clock import now_utc
from appsync.errors import AppsyncError, ConfigError, InstanceError, StaleError
from appsync.instance.connect import Instance, describe_error, names_a_row
from appsync.kinds import KindSpec, Registry
from appsync.plan.model import Change, to_jsonable
from appsync.port import UnitOfWork
from appsync.progress import report as progress
from appsync.secrets import to_tree

Reporter = Callable[[str], None]
#: Builds an audit row from a unit's counts, its status and a note naming the unit.
AuditRow = Callable[[Mapping[str, int], str, str], dict[str, Any]]


@dataclass
class ApplyReport:
    committed: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    duration_ms: int = 0
    dry_run: bool = False


class ApplyFailed(AppsyncError):
    """A unit failed and was rolled back; ``committed`` says which units went through."""

    def __init__(self, message: str, report: ApplyReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Adopt:
    """A conflict resolved as 'live': nothing is written, the sync state records that the
    target's version is the agreed one for the repo's rev (reported ``ahead`` from then)."""

    change: Change


def check_stale(
    uow: UnitOfWork,
    registry: Registry,
    touched: Sequence[Change],
    bindings: Bindings | None = None,
) -> None:
    """Refuse when any touched object's live rev is not the one the plan saw."""
    found = uow.read_keys([c.key for c in touched])
    seen = to_tree(registry, bindings if bindings is not None else Bindings(), found.values())
    now = {o.key: o for o in seen}
    stale = []
    for change in touched:
        live = now.get(change.key)
        if (live.rev if live else None) != change.from_rev:
            was = "absent" if change.from_rev is None else change.from_rev[:15]
            is_ = "absent" if live is None else live.rev[:15]
            stale.append(f"{change.label()} ({change.id}): was {was}, is {is_}")
    applied = all(
        (now[c.key].rev if c.key in now else None)
        == (c.desired_rev if c.action != "delete" else None)
        for c in touched
    )
    if stale and applied:
        raise StaleError(
            "this plan has already been applied: every object it touches holds its new "
            "version; make a new plan",
            stale,
        )
    if stale:
        raise StaleError(f"the target changed since the plan was made: {'; '.join(stale)}", stale)


def bound(bindings: Bindings, spec: KindSpec, step: Step) -> dict[str, Any]:
    """A step's content with this environment's values in place of its placeholders; one
    left over would be written literally, so it stops the apply (the plan checks this
    first, and run_apply checks every step before the first write)."""
    content = bindings.bind_content(spec, dict(step.content or {}))
    left = unbound_placeholders(content)
    if left:
        raise ConfigError(
            f"{step.change.label()} ({step.change.path or step.change.id}) needs binding "
            f"'{sorted(left)[0]}', which this target has no value for: a placeholder is "
            "never written"
        )
    return content


def _write(uow: UnitOfWork, spec: KindSpec, op: str, steps: list[Step], bindings: Bindings) -> None:
    if op == "create":
        uow.create(spec, [bound(bindings, spec, s) for s in steps])
    elif op == "update":
        uow.update(spec, [bound(bindings, spec, s) for s in steps])
    else:
        uow.delete(spec, [s.change.id for s in steps])


def _culprit(
    uow: UnitOfWork,
    spec: KindSpec,
    op: str,
    steps: list[Step],
    bindings: Bindings,
    error: Exception,
) -> AppsyncError:
    """The object a failed batch of writes failed on, found by writing them one at a time
    (each in a savepoint): an error that names it (kind, name, path) and says why."""
    for step in steps:
        try:
            with uow.savepoint():
                _write(uow, spec, op, [step], bindings)
        except Exception as exc:
            where = step.change.path or step.change.id
            return InstanceError(f"{op} of {step.change.label()} ({where}): {describe_error(exc)}")
    labels = ", ".join(s.change.label() for s in steps[:3])
    return InstanceError(
        f"{op} of {labels}{'...' if len(steps) > 3 else ''}: {describe_error(error)}"
    )


def _run_unit(
    uow: UnitOfWork,
    registry: Registry,
    unit: Unit,
    *,
    origin: str,
    actor: str,
    report: ApplyReport,
    bindings: Bindings,
    say: Reporter,
) -> Counter[str]:
    """Write one unit's steps and record them; returns the unit's counts per operation."""
    counts: Counter[str] = Counter()
    for (kind, op), group in itertools.groupby(unit.steps, key=lambda s: (s.change.kind, s.op)):
        steps = list(group)
        spec = registry.get(kind)
        try:
            with uow.savepoint():
                _write(uow, spec, op, steps, bindings)
        except AppsyncError:
            raise
        except Exception as exc:
            if not names_a_row(exc):
                raise
            raise _culprit(uow, spec, op, steps, bindings, exc) from exc
        counts[op] += len(steps)
        progress("applying", sum(counts.values()), len(unit.steps))
        say(f"{spec.category}: {len(steps)} {kind} {op}{'s' if len(steps) != 1 else ''}")
    _record(uow, registry, unit.steps, origin=origin, actor=actor, bindings=bindings)
    report.counts.update(counts)
    return counts


def _record(
    uow: UnitOfWork,
    registry: Registry,
    steps: Sequence[Step],
    *,
    origin: str,
    actor: str,
    bindings: Bindings,
) -> None:
    at = now_utc()
    # A parked object is written twice (a temporary value, then its own): record it once.
    written = list({s.key: s for s in steps if s.op != "delete"}.values())
    found = uow.read_keys([s.key for s in written])
    produced = {o.key: o for o in to_tree(registry, bindings, found.values())}
    history: list[dict[str, str | None]] = []
    states: list[dict[str, str]] = []
    for step in written:
        live = produced.get(step.key)
        if live is None:
            raise InstanceError(
                f"{step.change.label()} ({step.change.path or step.change.id}) was written "
                "but cannot be read back from the target"
            )
        history.append(
            {
                "kind": step.change.kind,
                "id": step.change.id,
                "rev": live.rev,
                "timestamp": at,
                "actor": actor,
                "origin": origin,
                "content": json.dumps(
                    to_jsonable(live.content), sort_keys=True, ensure_ascii=False
                ),
            }
        )
        states.append(
            {
                "kind": step.change.kind,
                "id": step.change.id,
                "desired_rev": step.change.to_rev or live.rev,
                "applied_rev": live.rev,
                "origin": origin,
                "applied_at": at,
            }
        )
    deleted = [s for s in steps if s.op == "delete"]
    history.extend(
        {
            "kind": s.change.kind,
            "id": s.change.id,
            "rev": "deleted",
            "timestamp": at,
            "actor": actor,
            "origin": origin,
            "content": None,
        }
        for s in deleted
    )
    uow.record(history, states, [s.key for s in deleted])


def _adopt(uow: UnitOfWork, adopted: Sequence[Adopt], origin: str) -> int:
    at = now_utc()
    rows = [
        {
            "kind": a.change.kind,
            "id": a.change.id,
            "desired_rev": a.change.to_rev or "",
            "applied_rev": a.change.from_rev or "",
            "origin": origin,
            "applied_at": at,
        }
        for a in adopted
        if a.change.to_rev and a.change.from_rev
    ]
    uow.record([], rows, [])
    return len(rows)


def evaluate(
    instance: Instance,
    registry: Registry,
    units: Sequence[Unit],
    *,
    touched: Sequence[Change],
    adopted: Sequence[Adopt] = (),
    origin: str,
    actor: str,
    dry_run: bool = False,
    report_progress: Reporter | None = None,
    audit: AuditRow | None = None,
) -> ApplyReport:
    """Apply ``units`` in order. ``touched`` are the plan's changes whose live rev must still
    be what the plan saw (checked inside the first transaction). ``audit`` builds the audit
    row each committed unit writes in its own transaction."""
    report = ApplyReport(dry_run=dry_run)
    started = time.monotonic()
    say = report_progress or (lambda _: None)
    work: list[Unit | None] = list(units) or [None]
    if dry_run:
        with instance.platform.unit(instance, rollback=True) as uow:
            check_stale(uow, registry, touched, instance.bindings)
            for unit in units:
                _run_unit(
                    uow,
                    registry,
                    unit,
                    origin=origin,
                    actor=actor,
                    report=report,
                    bindings=instance.bindings,
                    say=say,
                )
                say(f"transaction {unit.name!r}: {len(unit.steps)} change(s), dry run")
            _adopt(uow, adopted, origin)
            report.rows.update(uow.rows)
    else:
        for index, step in enumerate(work):
            _evaluate_unit(
                instance,
                registry,
                step,
                index,
                len(work),
                touched,
                adopted,
                origin,
                actor,
                report,
                say,
                audit,
            )
    report.duration_ms = int((time.monotonic() - started) * 1000)
    return report


def _evaluate_unit(
    instance: Instance,
    registry: Registry,
    unit: Unit | None,
    index: int,
    total: int,
    touched: Sequence[Change],
    adopted: Sequence[Adopt],
    origin: str,
    actor: str,
    report: ApplyReport,
    say: Reporter,
    audit: AuditRow | None,
) -> None:
    counts, rows = Counter(report.counts), Counter(report.rows)
    try:
        with instance.platform.unit(instance) as uow:
            unit_counts: Counter[str] = Counter()
            if index == 0:
                check_stale(uow, registry, touched, instance.bindings)
                _adopt(uow, adopted, origin)
            if unit is not None:
                unit_counts = _run_unit(
                    uow,
                    registry,
                    unit,
                    origin=origin,
                    actor=actor,
                    report=report,
                    bindings=instance.bindings,
                    say=say,
                )
            if audit is not None:
                note = f"unit {index + 1}/{total}: {unit.name}" if total > 1 and unit else ""
                uow.audit(audit(unit_counts, "applied", note))
            if index == total - 1 and instance.bindings.values:
                bindings = instance.bindings
                uow.remember_bindings(
                    {n: v for n, v in bindings.values.items() if n not in bindings.secret}
                )
            report.rows.update(uow.rows)
    except StaleError:
        raise
    except Exception as exc:
        report.counts, report.rows = counts, rows  # the unit was rolled back
        name = unit.name if unit is not None else "records"
        done = ", ".join(report.committed) or "none"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApplyFailed(
            f"apply failed in unit '{name}' (rolled back): {detail}; committed units: {done}",
            report,
        ) from exc
    if unit is not None:
        report.committed.append(unit.name)
        say(f"transaction {unit.name!r}: {len(unit.steps)} change(s) committed")
