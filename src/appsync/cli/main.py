"""Entry point: the click group, and the one place errors become exit codes (DESIGN 8)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

import click

from appsync import __version__, heap
from appsync.errors import AppsyncError


class Entry(NamedTuple):
    module: str
    attr: str
    short: str  # the first sentence of its help (tests/test_cli_habits.py checks it)


_C, _S, _P = "appsync.cli.commands", "appsync.cli.sync_commands", "appsync.cli.package_commands"

#: Every command, loaded only when it runs (or shows its own --help): ``appsync --version``
#: and ``appsync plan --help`` import neither the engine nor the other commands.
COMMANDS: dict[str, Entry] = {
    "apply": Entry(_S, "apply_command", "Apply the repo (or a saved PLAN_FILE) to TARGET."),
    "demo": Entry(
        _C,
        "demo_command",
        "Play the whole story on SQLite in DIRECTORY (a new temporary folder by default).",
    ),
    "drift": Entry(
        _S,
        "drift_command",
        "What changed on TARGET outside Git since appsync last applied to it (read-only).",
    ),
    "env": Entry(
        _C,
        "env_group",
        "Manage the environments in appsync.yaml (comments and layout are kept).",
    ),
    "export": Entry(
        _C, "export_command", "Write TARGET's apps into the canonical tree and commit them."
    ),
    "fmt": Entry(
        _C, "fmt_command", "Put object files under PATHS (default: .) into canonical form."
    ),
    "force-unlock": Entry(
        _S,
        "force_unlock_command",
        "Break TARGET's apply lock, left by an apply that died or hangs.",
    ),
    "github": Entry(
        "appsync.cli.github_commands",
        "github_group",
        "GitHub Actions helpers (the appsync action runs these).",
    ),
    "import": Entry(
        _P,
        "import_command",
        "Verify PACKAGE, then plan and apply it to TARGET (options and exit codes as apply; "
        "options left out come from appsync.yaml's environment, then import_config.json).",
    ),
    "init": Entry(
        _C,
        "init_command",
        "Create a Git repository with an appsync.yaml in DIRECTORY — or, inside an existing "
        "repository, an appsync project in that folder (a monorepo may hold several).",
    ),
    "instance": Entry(
        _C,
        "instance_group",
        "Create reference instances, or adopt a platform's existing database.",
    ),
    "log": Entry(
        _S,
        "log_command",
        "The audit log of TARGET (who applied what, from which commit), newest first.",
    ),
    "pack": Entry(
        _P,
        "pack_command",
        "Pack APP_DIR (<repo>/apps/<app>) and the instance-wide objects it needs into a ZIP.",
    ),
    "plan": Entry(
        _S, "plan_command", "Show what apply would do to TARGET, per object and per field."
    ),
    "rollback": Entry(
        _S,
        "rollback_command",
        "Bring TARGET back to the tree at an older commit or tag (plan + apply of that tree).",
    ),
    "schema": Entry(
        _C,
        "schema_command",
        "Write a JSON Schema for each kind's object files (for editors), from the manifests "
        "of the repository's platform.",
    ),
    "unpack": Entry(
        _P,
        "unpack_command",
        "Write PACKAGE's canonical tree into a new folder, after verifying all of it.",
    ),
    "validate": Entry(
        _C,
        "validate_command",
        "Check the tree without a database: structure, references inside it, conflict keys, "
        "keyed lists, bindings, file kinds and sizes (for CI and pre-commit, no credentials).",
    ),
    "verify": Entry(
        _P, "verify_command", "Check PACKAGE: integrity, structure, schema version, references."
    ),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command = getattr(importlib.import_module(entry.module), entry.attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table above, without importing every command."""
        import textwrap

        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = []
        for name in self.list_commands(ctx):
            short = COMMANDS[name].short
            if len(short) > limit:
                short = textwrap.shorten(short, limit, placeholder="...", break_on_hyphens=False)
            rows.append((name, short))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="appsync")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """appsync: low-code apps in Git. Export, plan, apply, roll back."""


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
    with heap.command():  # the cyclic collector as a command wants it
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
            name = type(exc).__name__
            click.echo(
                f"appsync: internal error: {name}: {exc} (run with --debug for details)",
                err=True,
            )
            sys.exit(1)
    sys.exit(0)


def run() -> NoReturn:
    """The ``appsync`` command: :func:`main`, then an exit without the interpreter's
    teardown. When ``main`` returns, every file it wrote is closed and every transaction
    has ended (appsync registers no exit handlers, starts no threads); what teardown would
    still do is free the objects the command built one by one, a tenth of a second after a
    10,000-object plan. The operating system takes the memory back at once. If the output
    cannot be flushed (a closed pipe), the interpreter exits as it always does."""
    heap.holding = True
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if code is None or isinstance(code, int):
        status = code or 0
    else:  # as the interpreter does: the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)
