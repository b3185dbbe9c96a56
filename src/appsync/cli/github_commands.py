"""github comment: post or update the pull request comment that shows a target's latest plan."""

from __future__ import annotations

import os
from pathlib import Path

import click

from appsync import __version__
from appsync.errors import UsageError


@click.group("github")
def github_group() -> None:
    """GitHub Actions helpers (the appsync action runs these)."""


@github_group.command("comment")
@click.option("--target", required=True, help="The environment (or URL) that was planned.")
@click.option(
    "--plan-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The plan saved with 'appsync plan TARGET --out FILE'.",
)
@click.option(
    "--error-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The error output of a run that made no plan.",
)
@click.option(
    "--exit-code", type=int, default=1, show_default=True, help="The failed run's exit code."
)
@click.option(
    "--command",
    "command_name",
    default="plan",
    show_default=True,
    help="What failed, for the heading of an error comment.",
)
@click.option("--key", help="What tells this comment apart from others  [default: the target]")
@click.option("--pr", "number", type=int, help="Pull request  [default: from GITHUB_EVENT_PATH]")
@click.option("--repository", help="OWNER/NAME  [default: GITHUB_REPOSITORY]")
@click.option("--artifact-url", help="Where the JSON plan is  [default: the workflow run]")
@click.option("--author", help="Only update a comment by this login (e.g. github-actions[bot]).")
def comment_command(
    target: str,
    plan_json: Path | None,
    error_file: Path | None,
    exit_code: int,
    command_name: str,
    key: str | None,
    number: int | None,
    repository: str | None,
    artifact_url: str | None,
    author: str | None,
) -> None:
    """Show the latest plan of TARGET in one pull request comment, updated in place.

    With --plan-json the comment shows the plan (or says there are no changes); with
    --error-file it shows the error that stopped the run. Reads GITHUB_TOKEN,
    GITHUB_REPOSITORY, GITHUB_EVENT_PATH and GITHUB_API_URL from the environment.

    \b
    Example:
      appsync plan prod --out plan.json --detailed-exitcode
      appsync github comment --target prod --plan-json plan.json
    """
    from appsync.github.api import GitHub
    from appsync.github.body import error_body, marker, plan_body
    from appsync.github.comment import pull_request, upsert
    from appsync.plan.model import Plan

    if plan_json is not None and error_file is not None:
        raise UsageError("give one of --plan-json FILE and --error-file FILE, not both")
    if plan_json is None and error_file is None:
        raise UsageError("give --plan-json FILE (a plan) or --error-file FILE (a failed run)")
    pr = pull_request(
        os.environ,
        number=number,
        repository=repository,
        artifact_url=artifact_url,
        version=__version__,
    )
    key = key or target
    if plan_json is not None:
        body = plan_body(key, target, Plan.load(plan_json), pr.run)
    elif error_file is not None:
        body = error_body(key, target, command_name, exit_code, _read(error_file), pr.run)
    posted = upsert(GitHub(pr.api_url, pr.token), pr, marker(key), body, author)
    click.echo(f"appsync: {posted.action} the plan comment for {target}: {posted.url}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the error output: {exc.strerror}") from exc
