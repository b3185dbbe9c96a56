"""Shared fixtures: real SQLite files, real PostgreSQL databases, real Git repositories."""

from __future__ import annotations

import os
import tempfile
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


#: Where the tests' temporary folders go when nothing else is asked for (``TMPDIR``,
#: ``--basetemp``): memory, if it has room for a run (~0.6 GB written, most of it deleted as
#: each test passes). The suite makes some 100,000 files and folders, many of them synced; on a disk
#: mounted with ``discard`` (this machine's) creating and deleting them costs more than the
#: tests' own work. SIGKILL leaves the same files behind on either; only power loss differs,
#: and no test cuts the power.
MEMORY = Path("/dev/shm")
MEMORY_ROOM = 2 << 30


def pytest_configure(config: pytest.Config) -> None:
    asked = config.option.basetemp or {"TMPDIR", "PYTEST_DEBUG_TEMPROOT"} & set(os.environ)
    if os.environ.get("PYTEST_XDIST_WORKER") or asked:
        return  # a worker inherits the controller's choice (its TMPDIR and its basetemp)
    try:
        stats = os.statvfs(MEMORY)
        usable = (
            os.access(MEMORY, os.W_OK | os.X_OK)
            and not stats.f_flag & os.ST_NOEXEC  # tests run scripts from their folders
            and stats.f_bavail * stats.f_frsize >= MEMORY_ROOM
        )
    except OSError:
        usable = False
    if usable:
        os.environ["TMPDIR"] = str(MEMORY)  # for every process a test starts, too
        tempfile.tempdir = None  # gettempdir() looks again


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not pg_server_url():
        raise pytest.UsageError(f"CI is set but {PG_ENV} is not: PostgreSQL tests must run")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _compile_appsync()


def _compile_appsync() -> None:
    """Bytecode for appsync's own modules before any test starts one: an editable install
    has none, and with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every ``appsync``
    subprocess would compile all of them again (a few tenths of a second each, hundreds of
    times). An installed appsync is compiled by pip; this only brings the suite to par."""
    import compileall

    import appsync

    compileall.compile_dir(Path(appsync.__file__).parent, quiet=1, workers=1)


#: Which tests start first: the long ones, so that two workers finish together (a long
#: test picked up last would keep one worker busy while the other has nothing to do).
FIRST = ("reliability", "slow", "directus", "e2e")


def _start_rank(item: pytest.Item) -> int:
    for rank, mark in enumerate(FIRST):
        if item.get_closest_marker(mark) is not None:
            return rank
    return len(FIRST)


def _long_first(items: list[pytest.Item]) -> None:
    """Modules with long tests first, each module's tests together and in their order (a
    module-scoped fixture is made once per worker, not again for every split)."""
    rank: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        rank[module] = min(rank.get(module, len(FIRST)), _start_rank(item))
    items.sort(key=lambda item: rank[item.nodeid.split("::", 1)[0]])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long tests first (the order is the same on every worker: a stable sort). On a worker
    with ``--dist loadgroup``, every test with an ``xdist_group`` mark must carry its group
    in its id (how pytest-xdist sends a group to one worker): a pytest that drops it would
    run each shared expensive fixture once per worker, silently."""
    _long_first(items)
    if not (os.environ.get("PYTEST_XDIST_WORKER") and config.getoption("loadgroup", False)):
        return
    lost = [
        item.nodeid
        for item in items
        if (group := item.get_closest_marker("xdist_group")) is not None
        and not item.nodeid.endswith(f"@{group.args[0] if group.args else 'default'}")
    ]
    if lost:
        raise pytest.UsageError(
            f"xdist_group ignored for {lost[0]} (and {len(lost) - 1} more): this pytest and "
            "pytest-xdist do not agree on test ids; see the pin in pyproject.toml"
        )


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
    """Empty databases on the test server. Each worker keeps a small pool: a database a
    test used is emptied (its public schema dropped and made anew, any session still on it
    ended) when the next test takes it — much cheaper than creating and dropping one per
    test. The pool is dropped when the session ends."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self.free: list[str] = []
        self.busy: list[str] = []
        self.prefix = (
            f"appsync_t_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:6]}"
        )

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def new_database(self) -> str:
        while self.free:
            name = self.free.pop()
            if self._empty(name):
                self.busy.append(name)
                return self._url(name)
        name = f"{self.prefix}_{len(self.created)}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        self.busy.append(name)
        return self._url(name)

    def _empty(self, name: str) -> bool:
        with self.engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": name},
            )
        engine = create_engine(self.url.set(database=name), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text("SET lock_timeout = '5s'"))
                schemas = connection.execute(
                    text(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'"
                    )
                ).scalars()
                for schema in list(schemas):
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                connection.execute(text("CREATE SCHEMA public"))
                connection.execute(text("GRANT ALL ON SCHEMA public TO PUBLIC"))
            return True
        except Exception:  # a database that cannot be emptied is left for drop_all
            return False
        finally:
            engine.dispose()

    def release(self) -> None:
        """The databases the last test used go back to the pool."""
        self.free.extend(self.busy)
        self.busy.clear()

    def drop_all(self) -> None:
        with self.engine.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


_SERVERS: list[PgServer] = []


@pytest.fixture(autouse=True)
def _pg_pool() -> Iterator[None]:
    """After each test, its PostgreSQL databases return to the pool."""
    yield
    for server in _SERVERS:
        server.release()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = pg_server_url()
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (CI always sets it)")
    server = PgServer(url)
    _SERVERS.append(server)
    try:
        yield server
    finally:
        _SERVERS.remove(server)
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
