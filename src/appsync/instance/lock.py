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
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from appsync.clock import now_utc
from appsync.errors import LockHeldError
from appsync.instance.connect import Instance, translate
from appsync.instance.schema import LOCK, own_table
from appsync.kinds import Registry

LOCK_NAME = "apply"
ADVISORY_KEY = 0x61707073796E63  # "appsync"
POLL_SECONDS = 0.2


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
    with instance.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.name == LOCK_NAME)).first()
        return dict(row._mapping) if row is not None else None


def _refuse(instance: Instance, table: Any) -> LockHeldError:
    holder = describe(_holder(instance, table))
    return LockHeldError(f"{instance.display} is locked by {holder}", holder)


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
        connection.execute(delete(table).where(table.c.name == LOCK_NAME))
        connection.execute(insert(table), [me])
        try:
            yield
        finally:
            connection.execute(delete(table).where(table.c.name == LOCK_NAME))
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
    finally:
        connection.close()


@contextlib.contextmanager
def _row_lock(
    instance: Instance, table: Any, me: dict[str, Any], deadline: float
) -> Iterator[None]:
    while True:
        try:
            with instance.engine.begin() as connection:
                connection.execute(insert(table), [me])
            break
        except IntegrityError:
            holder = _holder(instance, table)
            if holder is not None and _is_dead(holder):
                with instance.engine.begin() as connection:
                    connection.execute(
                        delete(table).where(table.c.name == LOCK_NAME, table.c.pid == holder["pid"])
                    )
                continue
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
