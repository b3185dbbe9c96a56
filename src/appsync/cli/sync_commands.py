"""plan, apply and log: thin commands over the plan and apply use-cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from appsync.cli.commands import REPO_OPTION
from appsync.cli.console import Console
from appsync.cli.drift_render import render_drift
from appsync.errors import ConflictError, RepoError, UsageError
from appsync.fsio import write_atomic
from appsync.gitstore import GitRepo, open_repo
from appsync.instance.reader import read_instance_id
from appsync.instance.state import read_audit, read_object_history
from appsync.kinds import registry
from appsync.plan.model import Plan
from appsync.plan.render import render
from appsync.usecases.apply import ApplyOptions, ApplyOutcome, run_apply
from appsync.usecases.drift import find_drift
from appsync.usecases.plan import load_desired, make_plan
from appsync.usecases.policy import check_protected, effective
from appsync.usecases.targets import Target, open_target, resolve_target
from appsync.usecases.write_merged import write_merged as write_merged_uc

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _repo_or_none(repo_dir: Path) -> GitRepo | None:
    try:
        return open_repo(repo_dir)
    except RepoError:
        return None


def target_for(text: str, repo_dir: Path) -> Target:
    repo = _repo_or_none(repo_dir)
    return resolve_target(text, repo.root if repo else repo_dir)


@click.command("plan")
@click.argument("target")
@REPO_OPTION
@click.option("--ref", help="Plan the tree at this Git revision instead of the work tree.")
@FORMAT
@click.option(
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
    help="Exit 2 when there are changes (3 on conflicts, as always).",
)
def plan_command(
    target: str,
    repo_dir: Path,
    ref: str | None,
    fmt: str,
    out: Path | None,
    prune: bool | None,
    merge: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would do to TARGET, per object and per field."""
    repo = open_repo(repo_dir)
    resolved = resolve_target(target, repo.root)
    pruning = bool(effective(resolved, "prune", prune))
    with open_target(resolved, read_only=True) as instance:
        plan = make_plan(instance, repo, registry(), ref=ref, prune=pruning, merge=merge)
    if out is not None:
        write_atomic(out, plan.to_json().encode("utf-8"))
    click.echo(render(plan, fmt, color=fmt == "text" and Console().color), nl=False)
    if plan.conflicts:
        names = ", ".join(c.label() for c in plan.conflicts)
        raise ConflictError(f"{len(plan.conflicts)} conflict(s): {names}")
    if detailed_exitcode and plan.has_changes:
        raise SystemExit(2)


def apply_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options apply, rollback and import share. Options left out take the target
    environment's defaults from appsync.yaml, then appsync's."""
    options = [
        REPO_OPTION,
        click.option(
            "--conflicts",
            type=click.Choice(["prompt", "overwrite", "skip", "merge"]),
            help="How to settle conflicts  [default: prompt]",
        ),
        click.option(
            "--transaction",
            type=click.Choice(["full", "batch", "per-category"]),
            help="Transaction units  [default: full]",
        ),
        click.option(
            "--allow-mass-delete",
            is_flag=True,
            help="Allow deleting more than half of an app's objects.",
        ),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option(
            "--dry-run", is_flag=True, help="Apply inside a transaction and roll it back."
        ),
        click.option(
            "--lock-timeout",
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Seconds to wait for another apply to finish.",
        ),
        click.option(
            "--write-merged",
            is_flag=True,
            help="After a merge, write the merged objects into the work tree.",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="On a protected environment: allow --conflicts overwrite, and (import) a "
            "package not packed from a clean commit.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("apply")
@click.argument("target")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ref", help="Apply the tree at this Git revision instead of the work tree.")
@click.option(
    "--prune/--no-prune", default=None, help="Delete objects deleted in Git  [default: no]"
)
@apply_options
def apply_command(
    target: str, plan_file: Path | None, ref: str | None, prune: bool | None, **options: Any
) -> None:
    """Apply the repo (or a saved PLAN_FILE) to TARGET."""
    if plan_file is None:
        _apply_tree(target, ref=ref, prune=prune, command="apply", **options)
        return
    if ref or prune is not None:
        raise UsageError("--ref and --prune are fixed when the plan is made, not on apply")
    saved = Plan.load(plan_file)
    resolved = target_for(target, options["repo_dir"])
    # A saved plan was reviewed when it was made: applying it is the approval.
    settings = _settings(resolved, f"apply {plan_file.name}", {**options, "yes": True})
    check_protected(
        resolved, dirty=saved.source.dirty, conflicts=settings.conflicts, force=options["force"]
    )
    with open_target(resolved) as instance:
        instance_id = read_instance_id(instance, registry())
        if saved.target.instance_id and instance_id:
            if saved.target.instance_id != instance_id:
                raise UsageError(
                    f"{plan_file} was made for another instance ({saved.target.url}), "
                    f"not {instance.display}"
                )
        elif saved.target.url and saved.target.url != instance.display:
            raise UsageError(f"{plan_file} was made for {saved.target.url}, not {instance.display}")
        outcome = run_apply(
            instance, registry(), lambda: saved, settings, Console(), show_plan=False
        )
    finish_apply(outcome)


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
def rollback_command(target: str, to_ref: str, prune: bool, **options: Any) -> None:
    """Bring TARGET back to the tree at an older commit or tag (plan + apply of that tree)."""
    _apply_tree(target, ref=to_ref, prune=prune, command=f"rollback --to {to_ref}", **options)


def _settings(target: Target, command: str, options: dict[str, Any]) -> ApplyOptions:
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
    target: str, *, ref: str | None, prune: bool | None, command: str, **options: Any
) -> None:
    reg = registry()
    repo = open_repo(options["repo_dir"])
    resolved = resolve_target(target, repo.root)
    settings = _settings(resolved, command, options)
    prune = bool(effective(resolved, "prune", prune))
    desired = load_desired(repo, reg, ref)
    check_protected(
        resolved,
        dirty=desired.source.dirty,
        conflicts=settings.conflicts,
        force=options["force"],
    )
    merge = settings.conflicts == "merge"
    with open_target(resolved) as instance:
        outcome = run_apply(
            instance,
            reg,
            lambda: make_plan(instance, repo, reg, prune=prune, desired=desired, merge=merge),
            settings,
            Console(),
        )
        if options["write_merged"] and outcome.report is not None and not settings.dry_run:
            keyed = {o.key: o for o in desired.objs}
            for path in write_merged_uc(reg, repo, outcome.written, keyed, instance.name):
                click.echo(f"wrote merged {path}")
    finish_apply(outcome)


def finish_apply(outcome: ApplyOutcome) -> None:
    _report(outcome)
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
    """The audit log of TARGET (who applied what, from which commit), newest first."""
    resolved = target_for(target, repo_dir)
    with open_target(resolved, read_only=True) as instance:
        if object_id:
            rows = read_object_history(instance, registry(), object_id)[: limit or None]
        else:
            rows = read_audit(instance, registry(), limit)
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
def drift_command(target: str, repo_dir: Path, fmt: str, detailed_exitcode: bool) -> None:
    """What changed on TARGET outside Git since appsync last applied to it (read-only)."""
    repo = open_repo(repo_dir)
    with open_target(resolve_target(target, repo.root), read_only=True) as instance:
        report = find_drift(instance, repo, registry())
    click.echo(render_drift(report, fmt), nl=False)
    if detailed_exitcode and report.has_drift:
        raise SystemExit(2)


COMMANDS = [plan_command, apply_command, rollback_command, drift_command, log_command]
