"""Options the commands share. Only click and appsync.choices here: every command's module
imports this at start-up, and ``appsync plan --help`` must not load the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from appsync.choices import MODES, STRATEGIES

if TYPE_CHECKING:
    from appsync.usecases.select import Selection

REPO_OPTION = click.option(
    "--repo",
    "--dir",
    "repo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project folder (holding appsync.yaml and the tree), or any folder inside it "
    "or its repository: the repository is found upwards, the project is the nearest "
    "folder with an appsync.yaml.",
)

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)

RESULT_FORMAT = click.option(
    "--format",
    "result_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to report the result: for people, or one JSON document.",
)

Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def select_options(command: Callable[..., None]) -> Callable[..., None]:
    """--app and --target: plan, apply or check only some objects (a partial plan)."""
    command = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="KIND/ID|PATH",
        help="Only this object (kind/id) or the objects at or under this tree path; "
        "repeatable. The plan says it is partial.",
    )(command)
    return click.option(
        "--app",
        "select_apps",
        multiple=True,
        metavar="NAME",
        help="Only this app's objects (name or folder slug); repeatable.",
    )(command)


def selection(options: dict[str, Any]) -> Selection:
    """The --app/--target choice, taken out of a command's keyword arguments."""
    from appsync.usecases.select import Selection

    return Selection(tuple(options.pop("select_apps", ())), tuple(options.pop("targets", ())))


def apply_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options apply, rollback and import share. Options left out take the target
    environment's defaults from appsync.yaml, then appsync's."""
    options: list[Decorator] = [
        REPO_OPTION,
        click.option(
            "--conflicts",
            type=click.Choice(STRATEGIES),
            help="How to settle conflicts  [default: prompt]",
        ),
        click.option(
            "--transaction",
            type=click.Choice(MODES),
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
        RESULT_FORMAT,
    ]
    for option in reversed(options):
        command = option(command)
    return command
