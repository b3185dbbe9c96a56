"""plan, apply and log: thin commands over the plan and apply use-cases."""

from __future__ import annotations

import json
from pathlib import Path

import click

from appsync.cli.commands import REPO_OPTION
from appsync.cli.console import Console
from appsync.errors import ConflictError, RepoError, UsageError
from appsync.gitstore import GitRepo, open_repo
from appsync.instance.state import read_audit, read_object_history
from appsync.kinds import registry
from appsync.plan.model import Plan
from appsync.plan.render import render
from appsync.usecases.apply import ApplyOptions, ApplyOutcome, run_apply
from appsync.usecases.plan import load_desired, make_plan
from appsync.usecases.targets import Target, open_target, resolve_target

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


def _target(text: str, repo_dir: Path) -> Target:
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
@click.option("--prune", is_flag=True, help="Plan deletes of objects deleted in Git.")
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
    prune: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would do to TARGET, per object and per field."""
    repo = open_repo(repo_dir)
    resolved = resolve_target(target, repo.root)
    with open_target(resolved, read_only=True) as instance:
        plan = make_plan(instance, repo, registry(), ref=ref, prune=prune)
    if out is not None:
        out.write_text(plan.to_json(), encoding="utf-8")
    click.echo(render(plan, fmt, color=fmt == "text" and Console().color), nl=False)
    if plan.conflicts:
        names = ", ".join(c.label() for c in plan.conflicts)
        raise ConflictError(f"{len(plan.conflicts)} conflict(s): {names}")
    if detailed_exitcode and plan.has_changes:
        raise SystemExit(2)


@click.command("apply")
@click.argument("target")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@REPO_OPTION
@click.option("--ref", help="Apply the tree at this Git revision instead of the work tree.")
@click.option(
    "--conflicts",
    type=click.Choice(["prompt", "overwrite", "skip", "merge"]),
    default="prompt",
    show_default=True,
    help="How to settle conflicts.",
)
@click.option(
    "--transaction",
    type=click.Choice(["full", "batch", "per-category"]),
    default="full",
    show_default=True,
    help="Transaction units.",
)
@click.option("--prune", is_flag=True, help="Delete objects deleted in Git.")
@click.option(
    "--allow-mass-delete", is_flag=True, help="Allow deleting more than half of an app's objects."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Apply inside a transaction and roll it back.")
@click.option(
    "--lock-timeout",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply to finish.",
)
def apply_command(
    target: str,
    plan_file: Path | None,
    repo_dir: Path,
    ref: str | None,
    conflicts: str,
    transaction: str,
    prune: bool,
    allow_mass_delete: bool,
    yes: bool,
    dry_run: bool,
    lock_timeout: float,
) -> None:
    """Apply the repo (or a saved PLAN_FILE) to TARGET."""
    reg = registry()
    options = ApplyOptions(
        conflicts=conflicts,  # type: ignore[arg-type]
        transaction=transaction,  # type: ignore[arg-type]
        # A saved plan was reviewed when it was made: applying it is the approval.
        allow_mass_delete=allow_mass_delete,
        yes=yes or plan_file is not None,
        dry_run=dry_run,
        lock_timeout=lock_timeout,
        command="apply" + (f" {plan_file.name}" if plan_file else ""),
    )
    console = Console()
    if plan_file is not None:
        if ref or prune:
            raise UsageError("--ref and --prune are fixed when the plan is made, not on apply")
        saved = Plan.load(plan_file)
        resolved = _target(target, repo_dir)
        with open_target(resolved) as instance:
            if saved.target.url and saved.target.url != instance.display:
                raise UsageError(
                    f"{plan_file} was made for {saved.target.url}, not {instance.display}"
                )
            outcome = run_apply(instance, reg, lambda: saved, options, console, show_plan=False)
    else:
        repo = open_repo(repo_dir)
        resolved = resolve_target(target, repo.root)
        desired = load_desired(repo, reg, ref)
        with open_target(resolved) as instance:
            outcome = run_apply(
                instance,
                reg,
                lambda: make_plan(instance, repo, reg, prune=prune, desired=desired),
                options,
                console,
            )
    _report(outcome)


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
    resolved = _target(target, repo_dir)
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


COMMANDS = [plan_command, apply_command, log_command]
