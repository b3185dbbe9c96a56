"""A real Directus for the tests: installed from the project's own files (tests/directus:
Directus 12.4.0, and Node 22 from the npm registry when the machine's Node is older) into a
cache folder shared by every run on the machine, then started per test on a free port, on
SQLite or PostgreSQL.

The cache is ``$APPSYNC_DIRECTUS_CACHE`` or ``~/.cache/appsync/directus``, one folder per
version of the lock files; a file lock keeps concurrent test workers from installing twice.

``directus bootstrap`` (system tables, 109 migrations, the first admin) takes about 16 s, so it
runs once per install and engine: into a template SQLite file in the cache folder, and into a
template database on the PostgreSQL server (named by the install's digest). An instance
starts as a copy of its engine's template, made its own: new ids for the admin's role,
policy, access rows and user, and its own admin email and token — as a bootstrap of its own
would leave it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

HERE = Path(__file__).resolve().parent / "directus"
NODE_MAJOR = 22
CACHE = Path(
    os.environ.get("APPSYNC_DIRECTUS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "appsync" / "directus"
)
INSTALL_TIMEOUT = 1800


@dataclass(frozen=True)
class Install:
    node_bin: Path
    directus: Path

    @property
    def root(self) -> Path:
        """The install's folder in the cache (its lock files' digest)."""
        return CACHE / _files_digest()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.node_bin}{os.pathsep}{env.get('PATH', '')}"
        return env


def _files_digest() -> str:
    digest = hashlib.sha256(platform.machine().encode())
    for name in (
        "package.json",
        "package-lock.json",
        "node/package.json",
        "node/package-lock.json",
    ):
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def _system_node() -> Path | None:
    node = shutil.which("node")
    if node is None:
        return None
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    major = int(version.lstrip("v").split(".")[0] or 0)
    return Path(node).parent if major >= NODE_MAJOR else None


def _npm_ci(folder: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"npm ci in {folder} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def install() -> Install:
    """Directus (and Node 22 if needed), installed once per machine and lock-file version."""
    root = CACHE / _files_digest()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = root / "installed.json"
        if stamp.is_file():
            data = json.loads(stamp.read_text())
            return Install(Path(data["node_bin"]), Path(data["directus"]))
        if root.exists():
            shutil.rmtree(root)
        (root / "node").mkdir(parents=True)
        (root / "app").mkdir()
        env = dict(os.environ)
        node_bin = _system_node()
        if node_bin is None:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(HERE / "node" / name, root / "node" / name)
            _npm_ci(root / "node", env)
            arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
            package = root / "node" / "node_modules" / f"node-linux-{arch}"
            node_bin = package / "bin"
            env["npm_config_nodedir"] = str(package)
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, root / "app" / name)
        _npm_ci(root / "app", env)
        directus = root / "app" / "node_modules" / ".bin" / "directus"
        stamp.write_text(json.dumps({"node_bin": str(node_bin), "directus": str(directus)}))
        return Install(node_bin, directus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Directus:
    """One Directus instance: bootstrapped on start, its process stopped on close."""

    def __init__(
        self, install: Install, folder: Path, *, database: str, admin_email: str, token: str
    ) -> None:
        self.install = install
        self.folder = folder
        self.database = database  # "sqlite" or a PostgreSQL URL (postgresql+psycopg://...)
        self.admin_email = admin_email
        self.token = token
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The database URL appsync uses."""
        if self.database == "sqlite":
            return f"sqlite:///{self.folder / 'directus.db'}"
        return self.database

    def _env(self) -> dict[str, str]:
        env = self.install.env()
        env.update(
            {
                "PORT": str(self.port),
                "HOST": "127.0.0.1",
                "PUBLIC_URL": self.api,
                "KEY": "appsync-test-key",
                "SECRET": "appsync-test-secret",
                "ADMIN_EMAIL": self.admin_email,
                "ADMIN_PASSWORD": "admin-password",
                "ADMIN_TOKEN": self.token,
                "TELEMETRY": "false",
                "LOG_LEVEL": "warn",
                "WEBSOCKETS_ENABLED": "false",
                # The suite's own requests (building projects) on a busy two-core machine
                # must not meet the limiter's 503 ("Under pressure"); appsync's do retry.
                "PRESSURE_LIMITER_ENABLED": "false",
                "STORAGE_LOCAL_ROOT": str(self.folder / "uploads"),
                "EXTENSIONS_PATH": str(self.folder / "extensions"),
            }
        )
        if self.database == "sqlite":
            env.update({"DB_CLIENT": "sqlite3", "DB_FILENAME": str(self.folder / "directus.db")})
        else:
            env.update(
                {"DB_CLIENT": "pg", "DB_CONNECTION_STRING": self.database.replace("+psycopg", "")}
            )
        return env

    def bootstrap(self) -> None:
        """The instance's database as ``directus bootstrap`` leaves it (from the template)."""
        (self.folder / "uploads").mkdir(exist_ok=True)
        (self.folder / "extensions").mkdir(exist_ok=True)
        if self.database == "sqlite":
            shutil.copyfile(_sqlite_template(self.install), self.folder / "directus.db")
        else:
            template = _pg_template(self.install, self.database)
            name = make_url(self.database).database
            engine = _maintenance(self.database)
            try:
                with engine.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            finally:
                engine.dispose()
        _make_own(self.url, self.admin_email, self.token)

    def run_bootstrap(self) -> None:
        """``directus bootstrap`` itself (for the templates)."""
        (self.folder / "uploads").mkdir(exist_ok=True)
        (self.folder / "extensions").mkdir(exist_ok=True)
        done = subprocess.run(
            [str(self.install.directus), "bootstrap"],
            cwd=self.folder,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"directus bootstrap failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )

    def launch(self) -> None:
        """Start the process; :meth:`wait_ready` waits until it answers."""
        log = open(self.folder / "directus.log", "ab")  # noqa: SIM115 (closed in stop)
        self._log = log
        self.process = subprocess.Popen(
            [str(self.install.directus), "start"],
            cwd=self.folder,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"directus exited: {self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                status, _ = self.request("GET", "/server/ping")
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"directus did not start in time: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.folder / "directus.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=20)
        self.process = None
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """One REST call as the admin (or with ``token``): (status, parsed JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, (json.loads(raw) if raw else None)
        except ValueError:
            return status, raw.decode(errors="replace")  # /server/ping answers "pong"

    def ok(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        """A REST call that must succeed; its ``data``."""
        status, payload = self.request(method, path, body, token=token)
        assert status < 300, f"{method} {path}: HTTP {status}: {payload}"
        return payload.get("data") if isinstance(payload, dict) else payload


TEMPLATE_EMAIL = "template@example.com"
TEMPLATE_TOKEN = "template-token"
#: Changes with how a template is made (the bootstrap's environment, what _make_own expects):
#: a template of another recipe is never used.
TEMPLATE_RECIPE = 1


def _sqlite_template(install: Install) -> Path:
    """A bootstrapped SQLite database, made once per install (a lock keeps workers from
    making it twice; it appears whole, by rename)."""
    path = install.root / f"template-{TEMPLATE_RECIPE}" / "directus.db"
    with open(install.root / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            with _bootstrapped(install, "template-build", "sqlite") as build:
                path.parent.mkdir(exist_ok=True)
                os.replace(build / "directus.db", path)
    return path


def _maintenance(url: str) -> Any:
    """An AUTOCOMMIT engine on ``url``'s server, connected to the suite's own database (the
    one ``APPSYNC_TEST_DATABASE_URL`` names), never to the database being made."""
    own = os.environ.get("APPSYNC_TEST_DATABASE_URL")
    database = (make_url(own).database if own else None) or "postgres"
    return create_engine(make_url(url).set(database=database), isolation_level="AUTOCOMMIT")


def _pg_template(install: Install, url: str) -> str:
    """A bootstrapped database on ``url``'s server, made once per install and recipe (under
    an advisory lock; it appears whole, by rename) and kept for the next runs."""
    name = f"appsync_directus_template_{TEMPLATE_RECIPE}_{install.root.name}"
    build = f"{name}_build"
    engine = _maintenance(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": name})
            try:
                found = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if found is None:
                    _build_pg_template(install, connection, url, build)
                    connection.execute(text(f'ALTER DATABASE "{build}" RENAME TO "{name}"'))
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": name})
    finally:
        engine.dispose()
    return name


def _build_pg_template(install: Install, connection: Any, url: str, build: str) -> None:
    """``directus bootstrap`` into a new database ``build``; dropped again if it fails."""
    connection.execute(text(f'DROP DATABASE IF EXISTS "{build}" WITH (FORCE)'))
    connection.execute(text(f'CREATE DATABASE "{build}"'))
    database = make_url(url).set(database=build).render_as_string(hide_password=False)
    try:
        with _bootstrapped(install, "template-build-pg", database):
            pass
    except BaseException:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{build}" WITH (FORCE)'))
        raise


@contextlib.contextmanager
def _bootstrapped(install: Install, name: str, database: str) -> Iterator[Path]:
    """``directus bootstrap`` of ``database`` in a scratch folder, removed afterwards."""
    folder = install.root / f"{name}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        Directus(
            install, folder, database=database, admin_email=TEMPLATE_EMAIL, token=TEMPLATE_TOKEN
        ).run_bootstrap()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _make_own(url: str, email: str, token: str) -> None:
    """New ids for the admin's role and policy, every access row and the user (a bootstrap
    makes them at random), and this instance's admin email and token. The public policy's
    id is Directus's constant and stays."""
    engine = create_engine(url)
    try:
        with engine.begin() as c:
            access = c.execute(
                text('SELECT id, role, "user", policy, sort FROM directus_access')
            ).all()
            (user_id, role_id), *more = c.execute(text("SELECT id, role FROM directus_users"))
            assert not more, "a template has one user"
            assert all(row.user is None for row in access), "bootstrap grants roles only"
            new = {str(role_id): str(uuid.uuid4())}
            for row in access:
                if row.role is not None:
                    new[str(row.policy)] = str(uuid.uuid4())
            c.execute(text("DELETE FROM directus_access"))
            c.execute(text("UPDATE directus_users SET role = NULL"))
            c.execute(
                text("UPDATE directus_roles SET id = :new WHERE id = :old"),
                {"new": new[str(role_id)], "old": str(role_id)},
            )
            for row in access:
                if row.role is not None:
                    c.execute(
                        text("UPDATE directus_policies SET id = :new WHERE id = :old"),
                        {"new": new[str(row.policy)], "old": str(row.policy)},
                    )
            c.execute(
                text(
                    "UPDATE directus_users SET id = :id, role = :role, email = :email, "
                    "token = :token WHERE id = :old"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "role": new[str(role_id)],
                    "email": email,
                    "token": token,
                    "old": str(user_id),
                },
            )
            for row in access:
                c.execute(
                    text(
                        'INSERT INTO directus_access (id, role, "user", policy, sort) '
                        "VALUES (:id, :role, :user, :policy, :sort)"
                    ),
                    {
                        "id": str(uuid.uuid4()),
                        "role": None if row.role is None else new[str(row.role)],
                        "user": None if row.user is None else str(row.user),
                        "policy": new.get(str(row.policy), str(row.policy)),
                        "sort": row.sort,
                    },
                )
    finally:
        engine.dispose()


@contextlib.contextmanager
def running(
    install: Install, folder: Path, *, database: str, admin_email: str, token: str
) -> Iterator[Directus]:
    with running_together(install, Spec(folder, database, admin_email, token)) as (server,):
        yield server


@dataclass(frozen=True)
class Spec:
    """One instance for :func:`running_together`."""

    folder: Path
    database: str
    admin_email: str
    token: str


@contextlib.contextmanager
def running_together(install: Install, *specs: Spec) -> Iterator[list[Directus]]:
    """Several instances, started side by side (each waits on its database and its own
    start-up, not on the others'), all stopped at the end of the block."""
    with contextlib.ExitStack() as stack:
        servers: list[Directus] = []
        for s in specs:
            server = Directus(
                install, s.folder, database=s.database, admin_email=s.admin_email, token=s.token
            )
            while server.port in {other.port for other in servers}:  # none listens yet
                server.port = free_port()
            stack.callback(server.stop)  # each one stopped, whatever another's stop does
            servers.append(server)
        for server in servers:
            server.bootstrap()
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers
