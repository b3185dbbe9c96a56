"""appsync demo: the whole GitOps story on SQLite in a few seconds, printed as a person
would type it: two instances, export to Git, plan and apply, a change reviewed in Git, a
hotfix on prod and the conflict it causes, a merge, drift and capture, and a rollback by
reverting a commit."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy import create_engine, text

from appsync.gitstore import open_repo


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


class _Story:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.step = 0

    def say(self, words: str) -> None:
        self.step += 1
        click.secho(f"\n# {self.step}. {words}", fg="cyan", bold=True)

    def appsync(self, *args: str, expect: int = 0) -> None:
        from appsync.cli.main import cli

        click.secho(f"$ appsync {shlex.join(args)}", bold=True)
        try:
            cli.main(args=list(args), prog_name="appsync", standalone_mode=False)
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        except Exception as exc:  # the errors a user would see, shown the same way
            code = getattr(exc, "exit_code", 1)
            for problem in getattr(exc, "problems", None) or [str(exc)]:
                click.echo(f"appsync: error: {problem}", err=True)
        if code != expect:
            raise click.ClickException(f"demo step 'appsync {shlex.join(args)}' exited {code}")
        if code:
            click.secho(f"(exit {code}, as expected)", dim=True)

    def shell(self, shown: str) -> None:
        click.secho(f"$ {shown}", bold=True)

    def sql(self, database: str, statement: str) -> None:
        self.shell(f"sqlite3 {database} {shlex.quote(statement)}")
        engine = create_engine(f"sqlite:///{self.folder / database}")
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def edit_json(self, path: str, key: str, old: str, new: str) -> None:
        self.shell(f"$EDITOR repo/{path}    # {key}: {old!r} -> {new!r}")
        target = self.folder / "repo" / path
        target.write_text(target.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    def commit(self, message: str) -> None:
        self.shell(f"git -C repo commit -am {shlex.quote(message)}")
        repo = open_repo(self.folder / "repo")
        repo.commit_paths(repo.tracked_changes(), message)


def run_demo(folder: Path | None) -> Path:
    """Play the story in ``folder`` (a new temporary folder by default); returns it."""
    root = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="appsync-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise click.ClickException(f"{root} is not empty: the demo needs an empty folder")
    os.environ.setdefault("APPSYNC_AUTHOR_NAME", "appsync demo")
    os.environ.setdefault("APPSYNC_AUTHOR_EMAIL", "demo@appsync.invalid")
    story = _Story(root)
    click.secho(f"appsync demo in {root}", bold=True)
    page = "apps/invoices/ui/pages/invoice-list.json"
    with _inside(root):
        story.say("Two instances of the platform: dev with the example apps, an empty prod.")
        story.appsync("instance", "init", "sqlite:///dev.db", "--example")
        story.appsync("instance", "init", "sqlite:///prod.db")

        story.say("A Git repository that knows both; the ERP URL differs per environment.")
        story.appsync("init", "repo")
        story.appsync(
            "env",
            "add",
            "dev",
            "--url",
            "sqlite:///../dev.db",
            "--repo",
            "repo",
            "--binding",
            "ERP_URL=https://erp.dev.example.com/api/v2",
        )
        story.appsync(
            "env",
            "add",
            "prod",
            "--url",
            "sqlite:///../prod.db",
            "--repo",
            "repo",
            "--protected",
            "--binding",
            "ERP_URL=https://erp.example.com/api/v2",
        )
        story.commit("Add dev and prod")

        story.say("Export dev into Git: one canonical JSON file per object.")
        story.appsync("export", "dev", "--repo", "repo", "-m", "Import from dev")

        story.say("Plan prod (the pull-request comment), then apply it.")
        story.appsync("plan", "prod", "--repo", "repo", "--format", "markdown")
        story.appsync("apply", "prod", "--repo", "repo", "--yes")

        story.say("A change reviewed in Git: a new label on the invoice list.")
        story.edit_json(page, "widgets[0].props.label", '"Invoices"', '"All invoices"')
        story.commit("Rename the invoice list heading")
        story.appsync("plan", "prod", "--repo", "repo")

        story.say("Meanwhile, a hotfix on prod, straight in the platform: a new route.")
        story.sql("prod.db", "UPDATE pages SET route = '/hotfix' WHERE name = 'Invoice List'")
        story.appsync("drift", "prod", "--repo", "repo")
        story.appsync("plan", "prod", "--repo", "repo", expect=3)

        story.say("Resolve it: a three-way merge keeps both edits.")
        story.appsync("apply", "prod", "--repo", "repo", "--conflicts", "merge", "--yes")
        story.appsync("plan", "prod", "--repo", "repo")

        story.say("Capture the hotfix on a branch for a pull request; merge it.")
        story.appsync("export", "prod", "--repo", "repo", "--branch", "capture/prod-hotfix")
        story.shell("git -C repo merge capture/prod-hotfix")
        open_repo(root / "repo").fast_forward("capture/prod-hotfix")
        story.appsync("plan", "prod", "--repo", "repo", "--detailed-exitcode")

        story.say("A bad change reaches prod; roll it back by reverting the commit.")
        sql_file = "apps/invoices/data/queries/open-invoices.sql"
        story.shell(f"echo 'SELECT 1 -- oops' > repo/{sql_file}")
        (root / "repo" / sql_file).write_text("SELECT 1 -- oops\n", encoding="utf-8")
        story.commit("Simplify open invoices")
        story.appsync("apply", "prod", "--repo", "repo", "--yes")
        story.shell("git -C repo revert --no-edit HEAD")
        open_repo(root / "repo").revert_head()
        story.appsync("apply", "prod", "--repo", "repo", "--yes")
        story.appsync("plan", "prod", "--repo", "repo", "--detailed-exitcode")

        story.say("Who applied what, from which commit:")
        story.appsync("log", "prod", "--repo", "repo")
    click.secho(f"\nDone. Everything is in {root}.", bold=True)
    return root
