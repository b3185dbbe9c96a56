"""Test helpers that drive appsync the way a user does and read results with real tools."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import MetaData, create_engine, select

from appsync.cli.main import cli


def run(*args: str, input: str | None = None) -> Result:
    """Run the CLI in-process, the way ``main`` does (exit codes and one-line errors)."""
    from appsync.cli.main import main

    runner = CliRunner()
    return runner.invoke(_Main(main), list(args), input=input, catch_exceptions=False)


class _Main:
    """Adapter so CliRunner can invoke ``main`` (which maps errors to exit codes)."""

    def __init__(self, main: object) -> None:
        self._main = main
        self.name = "appsync"

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        self._main(args)  # type: ignore[operator]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file of a work tree but .git, by posix path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def table_digest(url: str) -> dict[str, str]:
    """A digest of every row of every table: equal digests mean byte-identical tables."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        digests = {}
        with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                rows = connection.execute(select(table).order_by(*table.primary_key.columns))
                digest = hashlib.sha256()
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
                digests[name] = digest.hexdigest()
        return digests
    finally:
        engine.dispose()


__all__ = ["cli", "git", "run", "table_digest", "tree_bytes"]


def commit_all(repo: Path, message: str) -> None:
    """Commit every change in the work tree with the git CLI, as a person would."""
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", message)


def exported_example(tmp_path: Path) -> tuple[str, Path]:
    """The example instance (``dev.db``) exported into a new repository (``repo``)."""
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", url, "--example").exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", url, "--repo", str(repo)).exit_code == 0
    return url, repo


@contextlib.contextmanager
def serve_locally(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free local port in a thread for the block; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
