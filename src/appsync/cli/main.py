"""Entry point: the click group, and the one place errors become exit codes (DESIGN 8)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from appsync import __version__
from appsync.errors import AppsyncError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appsync")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """appsync: low-code apps in Git. Export, plan, apply, roll back."""


def _register() -> None:
    from appsync.cli import commands, github_commands, package_commands, sync_commands

    for command in [
        *commands.COMMANDS,
        *sync_commands.COMMANDS,
        *package_commands.COMMANDS,
        *github_commands.COMMANDS,
    ]:
        cli.add_command(command)


_register()


#: Libraries that log their own account of an error appsync reports in its one line
#: (psycopg: "error ignored terminating <psycopg.Pipeline ...>" when a batch loses its
#: connection). Without handlers, Python would print their warnings to stderr.
QUIET_LOGGERS = ("psycopg", "sqlalchemy")


def quiet_libraries(debug: bool) -> None:
    """Keep library log records off stderr (``--debug`` lets them through)."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if debug:
            continue
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is understood anywhere on the line, before or after the command.
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if debug:
        args.insert(0, "--debug")
    from appsync.cli.progress import TerminalProgress
    from appsync.progress import reporting

    quiet_libraries(debug)
    try:
        with reporting(TerminalProgress()):
            cli.main(args=args, prog_name="appsync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("appsync: aborted", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors are bad input: exit 1, since 2 means "the plan has changes".
        click.echo(f"appsync: error: {exc.format_message()}", err=True)
        sys.exit(1)
    except AppsyncError as exc:
        if debug:
            raise
        problems = getattr(exc, "problems", None) or [str(exc)]
        for problem in problems:  # all problems at once, one line each
            click.echo(f"appsync: error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        # A file appsync could not read or write that no adapter mapped: still one line.
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"appsync: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("appsync: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"appsync: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)
