"""plan, apply and log: thin commands over the plan and apply use-cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from appsync.cli.options import FORMAT, REPO_OPTION, apply_options, select_options, selection
from appsync.errors import AppsyncError, ConflictError, RepoError, UsageError

if TYPE_CHECKING:
    from appsync.gitstore import GitRepo
    from appsync.usecases.apply import ApplyOptions, ApplyOutcome
    from appsync.usecases.select import Selection
    from appsync.usecases.targets import Target

# The engine is imported inside each command: 'appsync plan --help' loads none of it.


def _repo_or_none(repo_dir: Path) -> GitRepo | None:
    from appsync.gitstore import open_repo

    try:
        return open_repo(repo_dir)
    except RepoError:
        return None


def target_for(text: str, repo_dir: Path) -> Target:
    from appsync.usecases.targets import resolve_target

    repo = _repo_or_none(repo_dir)
    return resolve_target(text, repo.root if repo else repo_dir)


@click.command("plan")
@click.argument("target")
@REPO_OPTION
@click.option("--ref", help="Plan the tree at this Git revision instead of the work tree.")
@FORMAT
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan as JSON for 'appsync apply TARGET FILE'.",
)
@click.option(
    "--prune/--no-prune", default=None, help="Plan deletes of objects deleted in Git  [default: no]"
)
@click.option(
    "--merge", is_flag=True, help="Preview three-way merges of conflicts (apply --conflicts merge)."
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when Git and the target differ: changes to apply, or the target holding "
    "what Git lacks (ahead, orphaned); 3 on conflicts, as always.",
)
@select_options
def plan_command(
    target: str,
    repo_dir: Path,
    ref: str | None,
    fmt: str,
    out: Path | None,
    prune: bool | None,
    merge: bool,
    detailed_exitcode: bool,
    **selected: Any,
) -> None:
    """Show what apply would do to TARGET, per object and per field.

    \b
    Example:
      appsync plan prod
      appsync plan prod --ref origin/main --format markdown
      appsync plan prod -o plan.json --detailed-exitcode
      appsync plan prod --app invoices --target admin/roles
    """
    from appsync.cli.console import Console
    from appsync.fsio import write_atomic
    from appsync.gitstore import open_repo
    from appsync.plan.render import render
    from appsync.usecases.plan import make_plan
    from appsync.usecases.policy import effective
    from appsync.usecases.targets import open_target, resolve_target

    repo = open_repo(repo_dir)
    resolved = resolve_target(target, repo.root)
    pruning = bool(effective(resolved, "prune", prune))
    select = selection(selected)
    with open_target(resolved, read_only=True) as instance:
        plan = make_plan(
            instance, repo, instance.registry, ref=ref, prune=pruning, merge=merge, select=select
        )
    if out is not None:
        write_atomic(out, plan.to_json().encode("utf-8"))
    click.echo(render(plan, fmt, color=fmt == "text" and Console().color), nl=False)
    if plan.conflicts:
        names = ", ".join(c.label() for c in plan.conflicts)
        raise ConflictError(f"{len(plan.conflicts)} conflict(s): {names}")
    if detailed_exitcode and plan.out_of_sync:
        raise SystemExit(2)


@click.command("apply")
@click.argument("target")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ref", help="Apply the tree at this Git revision instead of the work tree.")
@click.option(
    "--prune/--no-prune", default=None, help="Delete objects deleted in Git  [default: no]"
)
@apply_options
@select_options
def apply_command(
    target: str, plan_file: Path | None, ref: str | None, prune: bool | None, **options: Any
) -> None:
    """Apply the repo (or a saved PLAN_FILE) to TARGET.

    \b
    Example:
      appsync apply prod --yes
      appsync apply prod plan.json
      appsync apply prod --dry-run
      appsync apply prod --conflicts merge --yes --format json
    """
    from appsync.cli.console import Console
    from appsync.plan.model import Plan
    from appsync.usecases.apply import check_saved_plan, run_apply
    from appsync.usecases.policy import check_protected
    from appsync.usecases.targets import open_target

    select = selection(options)
    if plan_file is None:
        _apply_tree(target, ref=ref, prune=prune, command="apply", select=select, **options)
        return
    if ref or prune is not None or select:
        raise UsageError(
            "--ref, --prune, --app and --target are fixed when the plan is made, not on apply"
        )
    saved = Plan.load(plan_file)
    resolved = target_for(target, options["repo_dir"])
    # A saved plan was reviewed when it was made: applying it is the approval.
    settings = _settings(resolved, f"apply {plan_file.name}", {**options, "yes": True})
    check_protected(
        resolved, dirty=saved.source.dirty, conflicts=settings.conflicts, force=options["force"]
    )
    with open_target(resolved) as instance:
        check_saved_plan(saved, plan_file.name, instance)
        outcome = run_apply(
            instance,
            instance.registry,
            lambda: saved,
            settings,
            Console(show=options["result_format"] == "text"),
            show_plan=False,
        )
    finish_apply(outcome, options["result_format"])


@click.command("rollback")
@click.argument("target")
@click.option("--to", "to_ref", required=True, help="The commit or tag to bring TARGET back to.")
@click.option(
    "--prune/--no-prune",
    default=True,
    show_default=True,
    help="Delete objects that do not exist at REF (the default for a rollback).",
)
@apply_options
@select_options
def rollback_command(target: str, to_ref: str, prune: bool, **options: Any) -> None:
    """Bring TARGET back to the tree at an older commit or tag (plan + apply of that tree).

    \b
    Example:
      appsync rollback prod --to v1.4 --yes
      appsync rollback prod --to HEAD~1 --no-prune
    """
    select = selection(options)
    command = f"rollback --to {to_ref}"
    _apply_tree(target, ref=to_ref, prune=prune, command=command, select=select, **options)


def _settings(target: Target, command: str, options: dict[str, Any]) -> ApplyOptions:
    from appsync.usecases.apply import ApplyOptions
    from appsync.usecases.policy import effective

    return ApplyOptions(
        conflicts=effective(target, "conflicts", options["conflicts"]),
        transaction=effective(target, "transaction", options["transaction"]),
        allow_mass_delete=options["allow_mass_delete"],
        yes=options["yes"],
        dry_run=options["dry_run"],
        lock_timeout=options["lock_timeout"],
        command=command,
    )


def _apply_tree(
    target: str,
    *,
    ref: str | None,
    prune: bool | None,
    command: str,
    select: Selection,
    **options: Any,
) -> None:
    from appsync.cli.console import Console
    from appsync.gitstore import open_repo
    from appsync.usecases.apply import run_apply
    from appsync.usecases.plan import load_desired, make_plan
    from appsync.usecases.policy import check_protected, effective
    from appsync.usecases.targets import open_target, resolve_target
    from appsync.usecases.write_merged import write_merged as write_merged_uc

    repo = open_repo(options["repo_dir"])
    resolved = resolve_target(target, repo.root)
    settings = _settings(resolved, command, options)
    prune = bool(effective(resolved, "prune", prune))
    merge = settings.conflicts == "merge"
    with open_target(resolved) as instance:
        reg = instance.registry
        desired = load_desired(repo, reg, ref)
        check_protected(
            resolved,
            dirty=desired.source.dirty,
            conflicts=settings.conflicts,
            force=options["force"],
        )
        outcome = run_apply(
            instance,
            reg,
            lambda: make_plan(
                instance, repo, reg, prune=prune, desired=desired, merge=merge, select=select
            ),
            settings,
            Console(show=options["result_format"] == "text"),
        )
        if options["write_merged"] and outcome.report is not None and not settings.dry_run:
            keyed = {o.key: o for o in desired.objs}
            for path in write_merged_uc(reg, repo, outcome.written, keyed, instance.name):
                click.echo(f"wrote merged {path}")
    finish_apply(outcome, options["result_format"])


def apply_json(outcome: ApplyOutcome) -> str:
    """What an apply did, for machines (``--format json``)."""
    report = outcome.report
    counts = {k: report.counts.get(k, 0) for k in ("create", "update", "delete")} if report else {}
    status = "nothing to apply" if report is None else ("dry run" if report.dry_run else "applied")

    def brief(changes: list[Any]) -> list[dict[str, Any]]:
        return [
            {"kind": c.kind, "id": c.id, "name": c.name, "path": c.path, "reason": c.reason}
            for c in changes
        ]

    notice = outcome.notice
    data = {
        "format_version": 1,
        "target": outcome.plan.target.name,
        "source": outcome.plan.source.model_dump(mode="json"),
        "status": status,
        "counts": counts,
        "committed_units": report.committed if report else [],
        "rows": dict(sorted(report.rows.items())) if report else {},
        "duration_ms": report.duration_ms if report else 0,
        "skipped": brief(outcome.skipped),
        "adopted": brief(outcome.adopted),
        "unresolved": brief(outcome.unresolved),
        "notified": notice.done if notice else [],
        "notice_problems": notice.problems if notice else [],
        "plan_summary": outcome.plan.summary,
        "risk": outcome.plan.risk,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def finish_apply(outcome: ApplyOutcome, fmt: str = "text") -> None:
    if fmt == "json":
        click.echo(apply_json(outcome), nl=False)
    else:
        _report(outcome)
    notice = outcome.notice
    if notice is not None:
        for done in notice.done if fmt != "json" else []:
            click.echo(f"notified: {done}", err=True)
        if notice.problems and not notice.configured:
            click.echo(f"warning: {notice.problems[0]}", err=True)
        elif notice.problems:
            lines = [f"applied and committed, but {p}" for p in notice.problems]
            raise AppsyncError(lines[0], lines)
    if outcome.unresolved:
        names = "; ".join(f"{c.label()}: {c.reason}" for c in outcome.unresolved)
        raise ConflictError(
            f"{len(outcome.unresolved)} conflict(s) left unapplied: {names}",
            [c.label() for c in outcome.unresolved],
        )


def _report(outcome: ApplyOutcome) -> None:
    for change in outcome.skipped:
        click.echo(f"skipped {change.label()}: {change.reason}", err=True)
    for change in outcome.adopted:
        click.echo(f"kept the target's {change.label()} (recorded as ahead)", err=True)
    report = outcome.report
    if report is None:
        click.echo("Nothing to apply.")
        return
    c = report.counts
    done = f"{c['create']} created, {c['update']} updated, {c['delete']} deleted"
    if report.dry_run:
        click.echo(f"Dry run: {done}, rolled back after {report.duration_ms} ms.")
        click.echo("Rows touched per table:")
        for table, rows in sorted(report.rows.items()):
            click.echo(f"  {table}: {rows}")
        return
    click.echo(f"Applied: {done} in {report.duration_ms} ms.")


@click.command("log")
@click.argument("target")
@REPO_OPTION
@click.option("--object", "object_id", help="Show one object's revisions on the target.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--limit", type=int, default=None, help="Show at most this many entries.")
def log_command(
    target: str, repo_dir: Path, object_id: str | None, fmt: str, limit: int | None
) -> None:
    """The audit log of TARGET (who applied what, from which commit), newest first.

    \b
    Example:
      appsync log prod --limit 5
      appsync log prod --object 3f0c... --format json
    """
    from appsync.instance.state import read_audit, read_object_history
    from appsync.usecases.targets import open_target

    resolved = target_for(target, repo_dir)
    with open_target(resolved, read_only=True) as instance:
        if object_id:
            rows = read_object_history(instance, instance.registry, object_id)[: limit or None]
        else:
            rows = read_audit(instance, instance.registry, limit)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No entries.")
    for row in rows:
        if object_id:
            click.echo(f"{row['timestamp']}  {row['rev'][:19]}  {row['actor']}  {row['origin']}")
        else:
            counts = row.get("counts") or {}
            summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            click.echo(
                f"{row['timestamp']}  {row['status']:8} {row['actor']}  {row['command']}  "
                f"{row['origin']}  {summary or 'no changes'}  ({row['duration_ms']} ms)"
            )


@click.command("drift")
@click.argument("target")
@REPO_OPTION
@FORMAT
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there is drift.")
@select_options
def drift_command(
    target: str, repo_dir: Path, fmt: str, detailed_exitcode: bool, **selected: Any
) -> None:
    """What changed on TARGET outside Git since appsync last applied to it (read-only).

    \b
    Example:
      appsync drift prod
      appsync drift prod --detailed-exitcode   # nightly: exit 2 when out of sync
    """
    from appsync.cli.drift_render import render_drift
    from appsync.gitstore import open_repo
    from appsync.usecases.drift import find_drift
    from appsync.usecases.targets import open_target, resolve_target

    repo = open_repo(repo_dir)
    select = selection(selected)
    with open_target(resolve_target(target, repo.root), read_only=True) as instance:
        report = find_drift(instance, repo, instance.registry, select=select)
    click.echo(render_drift(report, fmt), nl=False)
    if detailed_exitcode and report.has_drift:
        raise SystemExit(2)


@click.command("force-unlock")
@click.argument("target")
@REPO_OPTION
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def force_unlock_command(target: str, repo_dir: Path, yes: bool) -> None:
    """Break TARGET's apply lock, left by an apply that died or hangs.

    Names the holder and asks first. On PostgreSQL it ends the holder's database session,
    so an apply still running rolls back the unit it is in.

    \b
    Example:
      appsync force-unlock prod          # shows who holds it, asks
      appsync force-unlock prod --yes
    """
    from appsync.cli.console import Console
    from appsync.instance.lock import current_holder, force_unlock
    from appsync.usecases.targets import open_target

    resolved = target_for(target, repo_dir)
    with open_target(resolved) as instance:
        instance.platform.check(instance)
        holder = current_holder(instance)
        if holder is None:
            click.echo(f"{instance.target} is not locked: nothing to do.")
            return
        click.echo(f"{instance.target} is locked by {holder}.")
        if not yes:
            if not Console().interactive:
                raise UsageError(
                    "refusing to break the lock without --yes: there is no terminal to ask"
                )
            if not click.confirm("Break the lock?", default=False):
                raise UsageError("lock kept: nothing was changed")
        force_unlock(instance)
    click.echo(f"Unlocked {instance.target}.")
