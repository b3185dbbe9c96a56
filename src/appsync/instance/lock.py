"""One apply at a time per instance: a PostgreSQL advisory lock, or a lock row on SQLite.

Either way a row in ``appsync_lock`` says who holds the lock, since when, from which host
and command, so that a refused apply can name the holder.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from appsync.clock import now_utc
from appsync.errors import AppsyncError, LockHeldError
from appsync.instance.connect import Instance, translate, writing
from appsync.instance.schema import LOCK, own_table
from appsync.kinds import Registry

LOCK_NAME = "apply"
ADVISORY_KEY = 0x61707073796E63  # "appsync"
#: The transaction-level lock every writing transaction of an apply takes.
WRITE_KEY = 0x61707073796E64
POLL_SECONDS = 0.2
#: SQLite's busy wait outside lock acquisition (connect's default).
BUSY_MS = 30_000


def _me(command: str) -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "name": LOCK_NAME,
        "holder": user,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "command": command,
        "acquired_at": now_utc(),
    }


def describe(row: dict[str, Any] | None) -> str:
    if row is None:
        return "another apply (holder unknown)"
    return (
        f"{row['holder']}@{row['host']} (pid {row['pid']}) since {row['acquired_at']}, "
        f"running '{row['command']}'"
    )


@contextlib.contextmanager
def apply_lock(
    instance: Instance, registry: Registry, *, command: str, timeout: float = 0.0
) -> Iterator[None]:
    """Hold the instance's apply lock for the ``with`` block, waiting up to ``timeout``."""
    table = own_table(LOCK)
    me = _me(command)
    deadline = time.monotonic() + max(timeout, 0.0)
    with translate(instance.display):
        if instance.dialect == "postgresql":
            with _pg_lock(instance, table, me, deadline):
                yield
        else:
            with _row_lock(instance, table, me, deadline):
                yield


def _holder(instance: Instance, table: Any) -> dict[str, Any] | None:
    try:
        with instance.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.name == LOCK_NAME)).first()
            return dict(row._mapping) if row is not None else None
    except OperationalError:
        return None  # the holder's commit has the database for a moment


def _refuse(instance: Instance, table: Any) -> LockHeldError:
    holder = describe(_holder(instance, table))
    return LockHeldError(f"{instance.display} is locked by {holder}", holder)


class LockLost(AppsyncError):
    """The apply lock ended under a running apply (its session was terminated): the unit
    in progress rolls back; what committed before stays committed, and is said."""


@dataclass
class PgGuard:
    """The session-level advisory lock that names the holder, tied to every writing
    transaction: each takes a transaction-level lock of its own (so a unit that might
    outlive a lost session lock still serializes with the next apply's writes) and checks,
    just before committing, that its apply still holds the session lock."""

    backend: int
    display: str

    def begin(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_KEY})

    def before_commit(self, connection: Connection) -> None:
        held = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = :pid AND classid = :hi AND objid = :lo AND objsubid = 1"
            ),
            {"pid": self.backend, "hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF},
        ).scalar()
        if not held:
            raise LockLost(
                f"{self.display}: the apply lock was lost (its database session ended): "
                "this unit was rolled back"
            )


@contextlib.contextmanager
def _pg_lock(instance: Instance, table: Any, me: dict[str, Any], deadline: float) -> Iterator[None]:
    connection = instance.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        while not connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
        ).scalar():
            if time.monotonic() >= deadline:
                raise _refuse(instance, table)
            time.sleep(POLL_SECONDS)
        backend = int(connection.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
        connection.execute(delete(table).where(table.c.name == LOCK_NAME))
        connection.execute(insert(table), [me])
        instance.guard = PgGuard(backend, instance.display)
        try:
            yield
        finally:
            instance.guard = None
            # A lock whose session ended is released already; failing to say so again
            # must not turn an apply that committed into an error.
            with contextlib.suppress(SQLAlchemyError):
                connection.execute(delete(table).where(table.c.name == LOCK_NAME))
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
    finally:
        with contextlib.suppress(SQLAlchemyError):
            connection.close()


@contextlib.contextmanager
def _row_lock(
    instance: Instance, table: Any, me: dict[str, Any], deadline: float
) -> Iterator[None]:
    while True:
        try:
            _insert_within(instance, table, me, deadline)
            break
        except IntegrityError:
            holder = _holder(instance, table)
            if holder is not None and _is_dead(holder):
                with instance.engine.begin() as connection:
                    connection.execute(
                        delete(table).where(table.c.name == LOCK_NAME, table.c.pid == holder["pid"])
                    )
                continue
        except OperationalError as exc:
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
            # Another apply is writing (its unit holds the database): held, like the row.
        if time.monotonic() >= deadline:
            raise _refuse(instance, table) from None
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        with instance.engine.begin() as connection:
            connection.execute(
                delete(table).where(
                    table.c.name == LOCK_NAME, table.c.pid == me["pid"], table.c.host == me["host"]
                )
            )


def _insert_within(instance: Instance, table: Any, me: dict[str, Any], deadline: float) -> None:
    """Insert the lock row, waiting for a busy database no longer than the lock timeout
    allows (SQLite's own busy wait would otherwise be its 30 s)."""
    wait = max(0.0, min(deadline - time.monotonic(), POLL_SECONDS))
    with instance.engine.connect() as plain:
        connection = writing(plain)
        raw: Any = connection.connection.driver_connection  # sqlite3: outside SQLAlchemy's
        raw.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")  # transaction
        try:
            with connection.begin():
                connection.execute(insert(table), [me])
        finally:
            raw.execute(f"PRAGMA busy_timeout = {BUSY_MS}")


def _is_dead(holder: dict[str, Any]) -> bool:
    """A lock row left by a process of this host that no longer runs."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False


def current_holder(instance: Instance) -> str | None:
    """Who holds the apply lock, as ``describe`` says it, or None when nobody does."""
    table = own_table(LOCK)
    with translate(instance.display):
        row = _holder(instance, table)
        if instance.dialect == "postgresql":
            held = _pg_lock_backend(instance) is not None
            if not held and row is None:
                return None
            return describe(row)
    return describe(row) if row is not None else None


def _pg_lock_backend(instance: Instance) -> int | None:
    with instance.engine.connect() as connection:
        pid = connection.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :hi AND objid = :lo AND objsubid = 1 AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF},
        ).scalar()
    return int(pid) if pid is not None else None


def force_unlock(instance: Instance) -> None:
    """Break the apply lock: end the session holding it (PostgreSQL; its apply then rolls
    back the unit in progress) and remove the row that names the holder."""
    table = own_table(LOCK)
    with translate(instance.display):
        if instance.dialect == "postgresql":
            pid = _pg_lock_backend(instance)
            if pid is not None:
                with instance.engine.connect() as connection:
                    connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    connection.commit()
        with writing(instance.engine.connect()) as connection, connection.begin():
            connection.execute(delete(table).where(table.c.name == LOCK_NAME))
