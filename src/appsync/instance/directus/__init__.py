"""Directus as a platform: its manifests (``manifests/directus``) plus the code data cannot
say — adopting a Directus database, recognising its version, the data model's DDL
(:mod:`.store`) and telling the running instance what changed (:mod:`.api`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, inspect, select, text

from appsync.errors import AppsyncError, InstanceError
from appsync.instance.connect import Instance, table_names, translate
from appsync.instance.directus import ddl
from appsync.instance.directus.api import DirectusApi
from appsync.instance.directus.store import DirectusStore
from appsync.instance.platforms import Notice, SqlPlatform
from appsync.instance.schema import META, OWN_TABLES, SCHEMA_VERSION, own_metadata, own_table
from appsync.plan.model import Change
from appsync.port import Key

MARKERS = ("directus_settings", "directus_collections", "directus_migrations")


class DirectusPlatform(SqlPlatform):
    name = "directus"

    @classmethod
    def detect(cls, tables: set[str]) -> bool:
        return all(t in tables for t in MARKERS)

    def store(self, connection: Connection) -> DirectusStore:
        return DirectusStore(connection, self.registry)

    def setup_hint(self, instance: Instance) -> str:
        return f"run 'appsync instance adopt {instance.target}' first"

    # -------------------------------------------------------------- version

    def version(self, instance: Instance) -> str:
        """The Directus version the database is at, from its newest migration; refuse a
        database that is not Directus or not a supported version."""
        tables = table_names(instance)
        if not self.detect(tables):
            raise InstanceError(
                f"{instance.display} is not a Directus database (no {', '.join(MARKERS)})"
            )
        with translate(instance.display), instance.engine.connect() as connection:
            newest = connection.execute(
                text("SELECT max(version) FROM directus_migrations")
            ).scalar()
        known = {v: k for k, v in self.registry.platform.migrations.items()}
        if newest in known:
            return known[newest]
        supported = ", ".join(self.registry.platform.versions)
        raise InstanceError(
            f"{instance.display}: unsupported Directus version (its newest migration is "
            f"{newest or 'none'}; appsync supports Directus {supported})"
        )

    def check_platform(self, instance: Instance) -> None:
        self.version(instance)

    # -------------------------------------------------------------- adopt

    def adopt(self, instance: Instance) -> bool:
        """Add appsync's own tables to a Directus database, touching no Directus table.
        Idempotent: returns whether anything was added."""
        version = self.version(instance)
        present = table_names(instance)
        with translate(instance.display), instance.engine.begin() as connection:
            missing = [own_metadata().tables[t] for t in OWN_TABLES if t not in present]
            own_metadata().create_all(connection, tables=missing)
            meta = own_table(META)
            have = {r.key: r.value for r in connection.execute(select(meta))}
            if have.get("platform") not in (None, self.name):
                raise InstanceError(
                    f"{instance.display} was adopted as a {have['platform']} instance"
                )
            rows = [
                {"key": k, "value": v}
                for k, v in (
                    ("schema_version", SCHEMA_VERSION),
                    ("instance_id", str(uuid.uuid4())),
                    ("platform", self.name),
                )
                if k not in have
            ]
            if rows:
                connection.execute(meta.insert(), rows)
            connection.execute(meta.delete().where(meta.c.key == "directus_version"))
            connection.execute(meta.insert(), [{"key": "directus_version", "value": version}])
        return bool(missing or rows)

    def data_at_risk(self, instance: Instance, changes: Iterable[Change]) -> dict[Key, str]:
        """Rows lost when a collection's table is dropped or one of its columns removed."""
        lost: dict[Key, tuple[str, list[str]]] = {}
        for change in changes:
            if change.kind != "collection":
                continue
            if change.action == "delete":
                lost[change.key] = (change.name, [])
            elif change.action in ("update", "conflict"):
                columns = [
                    f.item or f.path
                    for f in change.fields
                    if f.op == "remove" and f.path.startswith("fields[") and _had_column(f.old)
                ]
                if columns:
                    lost[change.key] = (change.name, columns)
        if not lost:
            return {}
        notes: dict[Key, str] = {}
        with translate(instance.display), instance.engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            for key, (table, columns) in lost.items():
                if table not in present:
                    continue
                rows = ddl.row_count(connection, table)
                what = f"columns {', '.join(columns)} of" if columns else "the table"
                notes[key] = f"drops {what} {table} ({rows} row{'' if rows == 1 else 's'})"
        return notes

    # -------------------------------------------------------------- the running instance

    def preflight(self, instance: Instance, api: str | None, token: str | None) -> None:
        if api and not token:
            raise InstanceError(
                f"environment '{instance.name}': api is set but token is not "
                "(token: ${DIRECTUS_TOKEN})"
            )
        if api and token:
            DirectusApi(api, token).check()

    def notify(self, instance: Instance, api: str | None, token: str | None) -> Notice:
        notice = Notice(configured=bool(api and token))
        if not api or not token:
            notice.problems.append(
                "Directus was not told about the change (no api and token for this "
                "environment): clear its cache (POST /utils/cache/clear?system=true) and "
                "reload flows, or restart it"
            )
            return notice
        client = DirectusApi(api, token)
        for step, done in (
            (client.clear_cache, "system cache cleared"),
            (client.reload_flows, "flows reloaded"),
        ):
            try:
                step()
                notice.done.append(done)
            except AppsyncError as exc:
                notice.problems.append(
                    f"{exc}; the changes are committed: clear Directus's cache "
                    "(POST /utils/cache/clear?system=true) and reload flows, or restart it"
                )
        return notice


def _had_column(field: Any) -> bool:
    return (
        isinstance(field, dict) and field.get("type") != "alias" and field.get("schema") is not None
    )
