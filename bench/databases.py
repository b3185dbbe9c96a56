"""Scratch databases for a benchmark run: new, cloned and dropped by name.

SQLite databases are files in the run's folder (a clone is a file copy). PostgreSQL ones are
databases on the server the harness was given, named ``appsync_bench_<run>_<name>`` (a
clone is ``CREATE DATABASE ... TEMPLATE``); ``close`` drops every one it created, also
after a failure.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy.engine import make_url


class Scratch(Protocol):
    name: str

    def url(self, name: str) -> str:
        """The URL the database called ``name`` has (or will have)."""
        ...

    def new(self, name: str) -> str:
        """The URL of a new, empty database called ``name`` (dropping an older one)."""
        ...

    def clone(self, source: str, name: str) -> str:
        """A copy of the database at ``source`` (no one may be connected to it)."""
        ...

    def drop(self, name: str) -> None: ...

    def close(self) -> None: ...


class SqliteScratch:
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.db"

    def url(self, name: str) -> str:
        return f"sqlite:///{self._path(name)}"

    def new(self, name: str) -> str:
        self.drop(name)
        return self.url(name)

    def clone(self, source: str, name: str) -> str:
        url = self.new(name)
        shutil.copyfile(make_url(source).database or "", self._path(name))
        return url

    def drop(self, name: str) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self._path(name)}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresScratch:
    name = "postgresql"

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url).set(drivername="postgresql+psycopg")
        self.prefix = f"appsync_bench_{uuid.uuid4().hex[:8]}_"
        libpq = self.server.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(libpq, autocommit=True)
        self.created: set[str] = set()

    def version(self) -> str:
        row = self.admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def url(self, name: str) -> str:
        database = self.prefix + name
        return self.server.set(database=database).render_as_string(hide_password=False)

    def new(self, name: str) -> str:
        self.drop(name)
        self.admin.execute(f'CREATE DATABASE "{self.prefix}{name}"')
        self.created.add(name)
        return self.url(name)

    def clone(self, source: str, name: str) -> str:
        self.drop(name)
        template = make_url(source).database
        self.admin.execute(f'CREATE DATABASE "{self.prefix}{name}" TEMPLATE "{template}"')
        self.created.add(name)
        return self.url(name)

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.prefix}{name}" WITH (FORCE)')
        self.created.discard(name)

    def close(self) -> None:
        try:
            for name in sorted(self.created):
                self.drop(name)
        finally:
            self.admin.close()
