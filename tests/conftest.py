"""Shared fixtures: real SQLite files, real PostgreSQL databases, real Git repositories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from pygit2.enums import ConfigLevel
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from appsync.kinds import Registry, registry

PG_ENV = "APPSYNC_TEST_DATABASE_URL"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pg_server_url() -> str | None:
    return os.environ.get(PG_ENV)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not pg_server_url():
        raise pytest.UsageError(f"CI is set but {PG_ENV} is not: PostgreSQL tests must run")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No global git config leaks in; commits get a pinned author."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("APPSYNC_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("APPSYNC_AUTHOR_EMAIL", "test@example.com")
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = str(home)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_DIR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def reg() -> Registry:
    return registry()


class PgServer:
    """Creates throw-away databases on the test server."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new_database(self) -> str:
        name = f"appsync_t_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = pg_server_url()
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (CI always sets it)")
    server = PgServer(url)
    try:
        yield server
    finally:
        server.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a new, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'instance.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def second_db(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """A second new database on the same backend as ``db_url`` (a target beside it)."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'prod.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


@pytest.fixture(scope="session")
def directus() -> Any:
    """Directus, installed from tests/directus into the machine's cache on first use."""
    from tests.directus_server import install

    return install()
