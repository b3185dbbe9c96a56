"""Opening a live instance: URL parsing, engines, and translation of driver errors."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
)

from appsync.bindings import Bindings
from appsync.canonical.jsonform import load_stored
from appsync.errors import InstanceError

if TYPE_CHECKING:
    from appsync.instance.platforms import SqlPlatform
    from appsync.kinds import Registry


#: The execution option a connection carries for a transaction that writes.
WRITE_OPTION = "appsync_write"


def writing(connection: Any) -> Any:
    """The connection, marked so that its next transaction takes the write lock at once."""
    return connection.execution_options(**{WRITE_OPTION: True})


def looks_like_url(text: str) -> bool:
    return "://" in text


def parse_url(text: str) -> URL:
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise InstanceError(f"'{text}' is not a database URL") from exc
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InstanceError(
            f"unsupported database '{url.get_backend_name()}' in {mask(url)}: "
            "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        url = url.set(drivername="postgresql+psycopg")
    return _fold_at(url)


def _fold_at(url: URL) -> URL:
    """An ``@`` left unescaped in a password belongs to the password: SQLAlchemy reads what
    follows it as part of the host, which would then show up in messages."""
    if not url.host or "@" not in url.host:
        return url
    extra, _, host = url.host.rpartition("@")
    if url.password is not None:
        return url.set(password=f"{url.password}@{extra}", host=host)
    return url.set(username=f"{url.username}@{extra}", host=host)


def mask(url: URL) -> str:
    """The URL as it may be printed: never with its password (nor a ``password=``)."""
    url = _fold_at(url)
    secret = _secret_params(url)
    if secret:
        url = url.update_query_dict(dict.fromkeys(secret, "appsynchiddenz"))
    return url.render_as_string(hide_password=True).replace("appsynchiddenz", _HIDDEN)


_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
#: Query parameters libpq takes a password from.
_SECRET_PARAMS = ("password", "passwd", "sslpassword")
_HIDDEN = "***"


def _parse_text(text: str) -> tuple[URL, dict[str, str]] | None:
    """The URL in ``text`` as SQLAlchemy parses it, with each ``${VAR}`` replaced by a token
    (returned, to put back); ``None`` when ``text`` is not a URL (``${APPSYNC_PROD_URL}``).
    An ``@`` left unescaped in a password is folded back into it, never read as the host."""
    tokens: dict[str, str] = {}

    def token(match: re.Match[str]) -> str:
        name = f"appsyncvar{len(tokens)}z"
        tokens[name] = match.group(0)
        return name

    try:
        url = make_url(_PLACEHOLDER.sub(token, text))
    except (ArgumentError, ValueError):
        return None
    return _fold_at(url), tokens


def _literal(value: object, tokens: dict[str, str]) -> bool:
    """Whether a password value holds anything but ``${VAR}`` placeholders."""
    if value is None or value == "":
        return False
    rest = str(value)
    for name in tokens:
        rest = rest.replace(name, "")
    return rest != ""


def _secret_params(url: URL) -> list[str]:
    return [k for k in url.query if k.lower() in _SECRET_PARAMS]


def literal_password(text: str) -> bool:
    """Whether a URL as written (``${VAR}`` placeholders unexpanded) holds a password in
    clear: in its user part or as a ``password=`` parameter."""
    parsed = _parse_text(text)
    if parsed is None:  # not a URL SQLAlchemy reads; still, user:password@ is a password
        _, scheme, rest = text.partition("://")
        userinfo = rest.rpartition("@")[0] if scheme else ""
        password = userinfo.partition(":")[2]
        return _literal(_PLACEHOLDER.sub("", password), {})
    url, tokens = parsed
    values = [url.password, *(url.query[k] for k in _secret_params(url))]
    return any(_literal(v, tokens) for v in values)


def with_password_variable(text: str, variable: str) -> str:
    """``text`` with its literal password replaced by ``${variable}`` (the form to write
    instead); unchanged when it is not a URL."""
    parsed = _parse_text(text)
    if parsed is None:
        return text
    url, tokens = parsed
    tokens["appsyncnewvarz"] = f"${{{variable}}}"
    if _literal(url.password, tokens):
        url = url.set(password="appsyncnewvarz")
    secret = {k: "appsyncnewvarz" for k in _secret_params(url) if _literal(url.query[k], tokens)}
    if secret:
        url = url.update_query_dict(secret)
    rendered = url.render_as_string(hide_password=False)
    for name, original in tokens.items():
        rendered = rendered.replace(name, original)
    return rendered


def mask_url(text: str) -> str:
    """A URL as written, fit to print: a literal password (user part or ``password=``)
    becomes ``***``, parsed the way SQLAlchemy parses it; ``${VAR}`` placeholders are
    shown as they are. Text that is no URL is returned unchanged unless it has a ``://``,
    then everything after the scheme is hidden."""
    parsed = _parse_text(text)
    if parsed is None:
        if "://" in text:
            return text.split("://", 1)[0] + "://" + _HIDDEN
        return text
    url, tokens = parsed
    hidden = {k: "appsynchiddenz" for k in _secret_params(url) if _literal(url.query[k], tokens)}
    if hidden:
        url = url.update_query_dict(hidden)
        tokens["appsynchiddenz"] = _HIDDEN
    rendered = url.render_as_string(hide_password=_literal(url.password, tokens))
    for name, original in tokens.items():
        rendered = rendered.replace(name, original)
    return rendered


def instance_name(url: URL) -> str:
    """A short name for an instance given by URL: its database file's stem or database name."""
    database = url.database or ""
    if url.get_backend_name() == "sqlite":
        return Path(database).stem or "memory"
    return database or (url.host or "postgresql")


@dataclass
class Instance:
    """An open connection pool to one live instance."""

    name: str
    url: URL
    engine: Engine
    #: The environment's bindings: live values become placeholders when read, and
    #: placeholders become values when written.
    bindings: Bindings = field(default_factory=Bindings)
    #: The running platform's API and admin token, told about applies (Directus).
    api: str | None = None
    token: str | None = field(default=None, repr=False)
    #: The platform whose storage this database holds (set by :func:`open_instance`).
    platform: SqlPlatform = field(default=None)  # type: ignore[assignment]

    #: Whether ``name`` is an environment's (not made up from the URL).
    named: bool = False
    #: While an apply holds the lock: what every writing transaction checks with it.
    guard: Any = None

    @property
    def target(self) -> str:
        """How a command line names this instance: its environment, else its URL."""
        return self.name if self.named else self.display

    @property
    def registry(self) -> Registry:
        return self.platform.registry

    @property
    def display(self) -> str:
        return mask(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_UNIQUE = "is already used by another row (it must be unique)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)"), "{1} of {0} " + _UNIQUE),
    (re.compile(r"Key \((.+?)\)=\((.*)\) already exists"), "{0} '{1}' " + _UNIQUE),
    (
        re.compile(r'Key \((.+?)\)=\((.*)\) is not present in table "(.+?)"'),
        "{0} '{1}' names a row {2} does not have",
    ),
    (re.compile(r"FOREIGN KEY constraint failed"), "it refers to a row the target does not have"),
    (re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)"), "{1} must have a value"),
    (re.compile(r'null value in column "(.+?)"'), "{0} must have a value"),
)


def names_a_row(exc: BaseException) -> bool:
    """Whether a database error is about the rows written (a constraint, a value), so that
    writing them one at a time finds the one it is about; not a lost connection."""
    if getattr(exc, "connection_invalidated", False):
        return False
    return isinstance(exc, IntegrityError | DataError)


def describe_error(exc: BaseException) -> str:
    """A database error as one line a person reads (the constraint that failed, in words),
    never a driver's tuple or a bare constraint name."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    text = " ".join(lines)
    for pattern, words in _PATTERNS:
        match = pattern.search(text)
        if match:
            return words.format(*match.groups())
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def translate(display: str) -> Iterator[None]:
    """Turn driver errors into one clear line naming the instance."""
    try:
        yield
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InstanceError(f"{display}: {first}") from exc
    except SQLAlchemyError as exc:
        raise InstanceError(f"{display}: {exc}") from exc


def open_instance(
    url_text: str,
    *,
    name: str | None = None,
    read_only: bool = False,
    create: bool = False,
    platform: str | None = None,
) -> Instance:
    """Open a target. ``create`` lets SQLite make a new file (``instance init`` only);
    ``read_only`` opens SQLite read-only and makes PostgreSQL transactions read-only.
    ``platform`` names the platform the environment expects; without it, the one the
    database records (``instance adopt``), else the reference platform."""
    url = parse_url(url_text)
    display = mask(url)
    try:
        if url.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, display, read_only=read_only, create=create)
        else:
            engine = create_engine(url, pool_pre_ping=False, json_deserializer=load_stored)
            if read_only:
                event.listen(engine, "connect", _pg_read_only)
    except NoSuchModuleError as exc:
        raise InstanceError(f"{display}: no driver for this database") from exc
    instance = Instance(
        name=name or instance_name(url), url=url, engine=engine, named=name is not None
    )
    try:
        with translate(display), engine.connect():
            pass
        from appsync.instance.platforms import platform_of

        instance.platform = platform_of(instance, platform)
    except BaseException:
        instance.close()
        raise
    return instance


def _pg_read_only(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.commit()  # type: ignore[attr-defined]


def _sqlite_engine(url: URL, display: str, *, read_only: bool, create: bool) -> Engine:
    database = url.database or ""
    if not database or database == ":memory:":
        raise InstanceError(f"{display}: an instance needs a database file")
    path = Path(database)
    if not create and not path.is_file():
        raise InstanceError(f"{display}: no such database file '{database}'")
    if create and not path.parent.is_dir():
        raise InstanceError(f"{display}: folder '{path.parent}' does not exist")
    if read_only:
        _recover_journal(path, display)
    mode = "ro" if read_only else ("rwc" if create else "rw")
    uri = f"{path.resolve().as_uri()}?mode={mode}"

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    engine = create_engine("sqlite://", creator=connect, json_deserializer=load_stored)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writing transaction takes SQLite's write lock at BEGIN, not at its first write
        # (so two applies never deadlock mid-unit); reads never take it.
        writing = not read_only and conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    return engine


def _recover_journal(path: Path, display: str) -> None:
    """A write killed inside its commit leaves a hot journal, which a read-only connection
    cannot roll back ("attempt to write a readonly database"): let SQLite recover it once
    through a writable connection, as the next writer would."""
    journal = path.with_name(path.name + "-journal")
    try:
        hot = journal.is_file() and journal.stat().st_size > 0
    except OSError:
        return
    if not hot:
        return
    try:
        with contextlib.closing(
            sqlite3.connect(path.resolve().as_uri() + "?mode=rw", uri=True)
        ) as c:
            c.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        raise InstanceError(
            f"{display}: an interrupted write left a journal ({journal.name}) that needs write "
            f"access to recover ({exc}); run appsync once with write access, or any apply"
        ) from exc


def table_names(instance: Instance) -> set[str]:
    with translate(instance.display):
        return set(inspect(instance.engine).get_table_names())
