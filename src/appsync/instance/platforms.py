"""Platforms behind one port: a SQL platform is its manifests plus the little code that data
cannot say (creating or adopting a database, checking its version, telling the running
platform what changed). The core sees a reader and a unit of work, never a connection.

``SqlPlatform`` holds what every SQL platform shares; a platform overrides only what differs
(as sqlmesh's engine adapters and alembic's dialect impls do).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from appsync.errors import InstanceError
from appsync.instance.connect import Instance, table_names, translate, writing
from appsync.instance.schema import META, OWN_TABLES, own_table
from appsync.instance.store import SqlStore
from appsync.instance.unit import SqlUnitOfWork
from appsync.kinds import DEFAULT_PLATFORM, Registry, registry
from appsync.plan.model import Change
from appsync.port import Key, UnitOfWork


@dataclass
class Notice:
    """What telling the running platform about an apply gave: done, or what to do."""

    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Whether the environment says how to reach the platform (api and token); without,
    #: a problem is only a warning saying what the operator must do.
    configured: bool = True


class SqlPlatform:
    """A platform whose definitions live in SQL tables that appsync reads and writes."""

    name = ""

    @classmethod
    def detect(cls, tables: set[str]) -> bool:
        """Whether a database with these tables looks like this platform's."""
        return False

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    # -------------------------------------------------------------- the port

    def store(self, connection: Connection) -> SqlStore:
        """The reader and writer of this platform's objects on one connection."""
        return SqlStore(connection, self.registry)

    @contextlib.contextmanager
    def unit(self, instance: Instance, *, rollback: bool = False) -> Iterator[UnitOfWork]:
        """One transaction: commits when the block ends, or rolls back with ``rollback``
        (a dry run) or on error."""
        guard = instance.guard
        with translate(instance.display), instance.engine.connect() as plain:
            connection = writing(plain) if not rollback else plain
            transaction = connection.begin()
            try:
                if guard is not None and not rollback:
                    guard.begin(connection)
                yield SqlUnitOfWork(connection, self.store(connection))
                if guard is not None and not rollback:
                    guard.before_commit(connection)
            except BaseException:
                transaction.rollback()
                raise
            if rollback:
                transaction.rollback()
            else:
                transaction.commit()

    def check(self, instance: Instance, *, state: bool = True) -> None:
        """Refuse a database that is not an instance of this platform appsync can use; with
        ``state`` (plan, apply, drift, log), also one without appsync's own tables."""
        self.check_platform(instance)
        if not state:
            return
        missing = sorted(set(OWN_TABLES) - table_names(instance))
        if missing:
            raise InstanceError(
                f"{instance.display} is not an appsync instance (missing tables: "
                f"{', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}); "
                f"{self.setup_hint(instance)}"
            )

    def check_platform(self, instance: Instance) -> None:
        """Refuse a database that does not hold this platform (a supported version of it)."""

    def setup_hint(self, instance: Instance) -> str:
        return "run 'appsync instance init URL' first"

    def data_at_risk(self, instance: Instance, changes: Iterable[Change]) -> dict[Key, str]:
        """For changes that would destroy data (a table dropped, a column removed): what
        and how much, read from the target (plan reads only)."""
        return {}

    def preflight(self, instance: Instance, api: str | None, token: str | None) -> None:
        """Before an apply writes: check what telling the platform afterwards needs."""

    def adopt(self, instance: Instance) -> bool:
        raise InstanceError(
            f"'instance adopt' is for existing platform databases; a {self.name} instance is "
            "created with 'appsync instance init URL'"
        )

    def notify(self, instance: Instance, api: str | None, token: str | None) -> Notice:
        """Tell the running platform that definitions changed (after a commit)."""
        return Notice()


class ReferencePlatform(SqlPlatform):
    """appsync's own reference schema (DESIGN section 2): created by ``instance init``."""

    name = "reference"

    def check_platform(self, instance: Instance) -> None:
        tables = {spec.storage.table for spec in self.registry} | set(OWN_TABLES)
        missing = sorted(tables - table_names(instance))
        if missing:
            raise InstanceError(
                f"{instance.display} is not an appsync instance (missing tables: "
                f"{', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}); "
                "run 'appsync instance init URL' first"
            )


#: Each platform's code, imported only when an instance of it is opened.
PLATFORMS: dict[str, tuple[str, str]] = {
    "directus": ("appsync.instance.directus", "DirectusPlatform"),
    "reference": (__name__, "ReferencePlatform"),
}


def _platform_class(name: str) -> type[SqlPlatform]:
    import importlib

    module, attr = PLATFORMS[name]
    cls: type[SqlPlatform] = getattr(importlib.import_module(module), attr)
    return cls


def make_platform(name: str) -> SqlPlatform:
    if name not in PLATFORMS:
        raise InstanceError(f"unknown platform '{name}' (known: {', '.join(sorted(PLATFORMS))})")
    return _platform_class(name)(registry(name))


def recorded_platform(connection: Connection) -> str | None:
    """The platform ``instance adopt`` recorded in appsync_meta, if any."""
    table = own_table(META)
    return connection.execute(select(table.c.value).where(table.c.key == "platform")).scalar()


def platform_of(instance: Instance, expected: str | None) -> SqlPlatform:
    """The platform of an open instance: the one the database records, checked against the
    one the environment expects."""
    recorded: str | None = None
    tables = table_names(instance)
    if META in tables:
        with translate(instance.display), instance.engine.connect() as connection:
            recorded = recorded_platform(connection)
    if recorded is None and expected is None:
        recorded = next((n for n in PLATFORMS if _platform_class(n).detect(tables)), None)
    if expected and recorded and expected != recorded:
        raise InstanceError(
            f"{instance.display} holds a {recorded} instance, but the environment says "
            f"platform: {expected}"
        )
    return make_platform(expected or recorded or DEFAULT_PLATFORM)
