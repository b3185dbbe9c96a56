"""Directus's store: the generic mapping, plus what its manifests cannot say — a collection's
fields are columns (DDL) with their ``directus_fields`` rows, a relation is a foreign key.

Reads add each collection's ``folder`` and ``fields`` and each relation's ``schema`` from one
reflection of the database; writes run the DDL inside the same transaction as the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from appsync.errors import InstanceError
from appsync.instance.directus import columns as reflection
from appsync.instance.directus import ddl
from appsync.instance.directus.columns import ALIAS, ForeignKey
from appsync.instance.mapping import decode, encode
from appsync.instance.store import SqlStore
from appsync.kinds import FieldSpec, KindSpec, Registry
from appsync.kinds.spec import Codec

COLLECTION = "collection"
RELATION = "relation"

#: A field's ``meta``: the columns of its directus_fields row (``sort`` is its position).
META_FIELDS: dict[str, FieldSpec] = {
    name: FieldSpec(name=name, type=kind)
    for name, kind in {
        "special": "json",
        "interface": "string",
        "options": "json",
        "display": "string",
        "display_options": "json",
        "readonly": "bool",
        "hidden": "bool",
        "width": "string",
        "translations": "json",
        "note": "text",
        "conditions": "json",
        "required": "bool",
        "group": "string",
        "validation": "json",
        "validation_message": "text",
        "searchable": "bool",
    }.items()
}
_CODECS: dict[str, Codec] = {"special": "csv"}


def _fields_table() -> Table:
    columns: list[Column[Any]] = [
        Column("id", BigInteger, primary_key=True),
        Column("collection", String()),
        Column("field", String()),
        Column("sort", BigInteger),
    ]
    for name, spec in META_FIELDS.items():
        kind: Any = {"json": JSON(none_as_null=True), "bool": Boolean(), "text": Text()}.get(
            spec.type, String()
        )
        columns.append(Column(name, Text() if name in _CODECS else kind))
    return Table("directus_fields", MetaData(), *columns)


FIELDS = _fields_table()


class DirectusStore(SqlStore):
    def __init__(self, connection: Connection, registry: Registry) -> None:
        super().__init__(connection, registry)
        self._tables: dict[str, reflection.Table] | None = None

    # ------------------------------------------------------------------ reading

    def _reflected(self, names: list[str]) -> dict[str, reflection.Table]:
        if self._tables is None:
            self._tables = {}
        missing = [n for n in names if n not in self._tables]
        if missing:
            specials = {(c, f): s for (c, f), s in self._meta_specials().items() if c in missing}
            found = reflection.reflect(self.connection, missing, specials)
            for name in missing:
                self._tables[name] = found.get(name)  # type: ignore[assignment]
        return {n: t for n in names if (t := self._tables.get(n)) is not None}

    def _meta_rows(self) -> dict[str, list[dict[str, Any]]]:
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in self.connection.execute(select(FIELDS)):
            mapping = dict(row._mapping)
            rows.setdefault(str(mapping["collection"]), []).append(mapping)
        return rows

    def _meta_specials(self) -> dict[tuple[str, str], list[str]]:
        query = select(FIELDS.c.collection, FIELDS.c.field, FIELDS.c.special)
        return {
            (r.collection, r.field): decode(META_FIELDS["special"], "csv", r.special) or []
            for r in self.connection.execute(query)
        }

    def forget(self) -> None:
        super().forget()
        self._tables = None

    def complete(self, spec: KindSpec, contents: list[tuple[Any, dict[str, Any]]]) -> None:
        if spec.kind == COLLECTION:
            self._complete_collections(contents)
        elif spec.kind == RELATION:
            self._complete_relations(contents)
        else:
            super().complete(spec, contents)

    def _complete_collections(self, contents: list[tuple[Any, dict[str, Any]]]) -> None:
        names = [str(c["collection"]) for _, c in contents]
        tables = self._reflected(names)
        meta = self._meta_rows()
        for _, content in contents:
            name = str(content["collection"])
            table = tables.get(name)
            content["folder"] = table is None
            content["fields"] = _fields_of(table, meta.get(name, []))

    def _complete_relations(self, contents: list[tuple[Any, dict[str, Any]]]) -> None:
        tables = self._reflected(sorted({str(c["many_collection"]) for _, c in contents}))
        for _, content in contents:
            table = tables.get(str(content["many_collection"]))
            fk = table.foreign_keys.get(str(content["many_field"])) if table else None
            content["schema"] = (
                {"on_delete": fk.on_delete, "on_update": fk.on_update} if fk is not None else None
            )

    # ------------------------------------------------------------------ collections

    def _live(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found = self.read_keys([(kind, i) for i in ids])
        return {k[1]: o.content for k, o in found.items()}

    def create(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if spec.kind == RELATION:
            super().create(spec, contents)
            for content in contents:
                if content.get("schema") is not None:
                    self._set_foreign_key(content, None)
            self.forget()
            return
        if spec.kind != COLLECTION:
            super().create(spec, contents)
            return
        super().create(spec, contents)
        for content in contents:
            name = str(content["collection"])
            if not content.get("folder"):
                ddl.create_table(self.connection, name, content.get("fields") or [])
            self._write_meta(name, content.get("fields") or [], existing={})
        self.forget()

    def update(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if spec.kind not in (COLLECTION, RELATION):
            super().update(spec, contents)
            return
        live = self._live(spec.kind, [str(c["id"]) for c in contents])
        super().update(spec, contents)
        for content in contents:
            before = live.get(str(content["id"]))
            if before is None:
                raise InstanceError(f"{spec.kind} {content['id']} is not on the target")
            if spec.kind == RELATION:
                if before.get("schema") != content.get("schema"):
                    self._set_foreign_key(content, before)
            else:
                self._alter_collection(content, before)
        self.forget()

    def delete(self, spec: KindSpec, ids: Sequence[str]) -> None:
        if spec.kind not in (COLLECTION, RELATION):
            super().delete(spec, ids)
            return
        live = self._live(spec.kind, ids)
        for content in live.values():
            if spec.kind == RELATION:
                if content.get("schema") is not None:
                    self._set_foreign_key({**content, "schema": None}, content)
            else:
                name = str(content["collection"])
                if not content.get("folder"):
                    ddl.drop_table(self.connection, name)
                result = self.connection.execute(delete(FIELDS).where(FIELDS.c.collection == name))
                self._count("directus_fields", result.rowcount)
        super().delete(spec, ids)
        self.forget()

    def _alter_collection(self, content: Mapping[str, Any], before: Mapping[str, Any]) -> None:
        name = str(content["collection"])
        fields = list(content.get("fields") or [])
        old_fields = list(before.get("fields") or [])
        if content.get("folder") and not before.get("folder"):
            ddl.drop_table(self.connection, name)
        elif before.get("folder") and not content.get("folder"):
            ddl.create_table(self.connection, name, fields)
        elif not content.get("folder"):
            self._alter_columns(name, fields, old_fields)
        query = select(FIELDS).where(FIELDS.c.collection == name)
        existing = {str(r["field"]): dict(r) for r in self.connection.execute(query).mappings()}
        self._write_meta(name, fields, existing=existing)

    def _alter_columns(
        self, table: str, fields: list[Mapping[str, Any]], old_fields: list[Mapping[str, Any]]
    ) -> None:
        want = {f["field"]: f for f in fields if _has_column(f)}
        have = {f["field"]: f for f in old_fields if _has_column(f)}
        added = [want[n] for n in want if n not in have]
        removed = [n for n in have if n not in want]
        changed = [
            n
            for n in want
            if n in have
            and (want[n]["type"], want[n]["schema"]) != (have[n]["type"], have[n]["schema"])
        ]
        if not (added or removed or changed):
            return
        if self.connection.dialect.name == "sqlite" and (removed or changed):
            live = self._reflected([table]).get(table)
            if live is None:
                raise InstanceError(f"collection '{table}' has no table on the target")
            keep = [fk for column, fk in live.foreign_keys.items() if column in want]
            ddl.rebuild_sqlite(self.connection, table, list(want.values()), keep, live)
            return
        for column in removed:
            ddl.drop_column(self.connection, table, column)
        for column in changed:
            ddl.alter_postgres(self.connection, table, want[column], have[column])
        for field in added:
            ddl.add_column(self.connection, table, field)
        self._tables = None

    def _write_meta(
        self,
        collection: str,
        fields: list[Mapping[str, Any]],
        *,
        existing: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """directus_fields rows: one per field with ``meta``, ``sort`` its position."""
        wanted: dict[str, dict[str, Any]] = {}
        for position, field in enumerate(fields, start=1):
            meta = field.get("meta")
            if meta is None:
                continue
            row = {"collection": collection, "field": field["field"], "sort": position}
            for name, spec in META_FIELDS.items():
                row[name] = encode(spec, _CODECS.get(name, "native"), meta.get(name))
            wanted[str(field["field"])] = row
        gone = [n for n in existing if n not in wanted]
        if gone:
            result = self.connection.execute(
                delete(FIELDS).where(FIELDS.c.collection == collection, FIELDS.c.field.in_(gone))
            )
            self._count("directus_fields", result.rowcount)
        new = [row for n, row in wanted.items() if n not in existing]
        if new:
            self.connection.execute(insert(FIELDS), new)
            self._count("directus_fields", len(new))
        changed = [
            {"_id": existing[n]["id"], **row}
            for n, row in wanted.items()
            if n in existing and any(_differs(existing[n].get(k), v) for k, v in row.items())
        ]
        if changed:
            names = [c for c in changed[0] if c not in ("_id", "collection", "field")]
            statement = (
                update(FIELDS)
                .where(FIELDS.c.id == bindparam("_id"))
                .values({n: bindparam(f"_v_{n}") for n in names})
            )
            self.connection.execute(
                statement, [{"_id": c["_id"], **{f"_v_{n}": c[n] for n in names}} for c in changed]
            )
            self._count("directus_fields", len(changed))

    # ------------------------------------------------------------------ relations

    def _set_foreign_key(
        self, content: Mapping[str, Any], before: Mapping[str, Any] | None
    ) -> None:
        """Make the foreign key of a relation what its ``schema`` says (none when null)."""
        table = str(content["many_collection"])
        column = str(content["many_field"])
        live = self._reflected([table]).get(table)
        if live is None:
            raise InstanceError(f"relation {table}.{column}: the table {table} does not exist")
        old = live.foreign_keys.get(column)
        schema = content.get("schema")
        new: ForeignKey | None = None
        if schema is not None:
            target = str(content.get("one_collection") or "")
            referred = self._reflected([target]).get(target)
            if referred is None or len(referred.primary_key) != 1:
                raise InstanceError(
                    f"relation {table}.{column}: {target or 'its one side'} has no table with "
                    "a single-column primary key"
                )
            new = ForeignKey(
                table,
                column,
                target,
                referred.primary_key[0],
                str(schema.get("on_delete") or "NO ACTION").upper(),
                str(schema.get("on_update") or "NO ACTION").upper(),
            )
        if self.connection.dialect.name == "sqlite":
            fields = self._collection_fields(table)
            keep = [fk for c, fk in live.foreign_keys.items() if c != column]
            ddl.rebuild_sqlite(
                self.connection, table, fields, [*keep, *([new] if new else [])], live
            )
        else:
            if old is not None:
                ddl.drop_foreign_key(self.connection, old)
            if new is not None:
                ddl.add_foreign_key(self.connection, new)
        self._tables = None

    def _collection_fields(self, table: str) -> list[Mapping[str, Any]]:
        spec = self.registry.get(COLLECTION)
        for obj in self._read_whole(spec).values():
            if obj.content.get("collection") == table:
                return list(obj.content.get("fields") or [])
        live = self._reflected([table]).get(table)
        if live is None:
            return []
        return [
            {"field": c.name, "type": c.type, "schema": c.schema} for c in live.columns.values()
        ]


def _has_column(field: Mapping[str, Any]) -> bool:
    return field.get("type") != ALIAS and field.get("schema") is not None


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, bool) and not isinstance(old, bool) and old is not None:
        return bool(old) != new
    return bool(old != new)


def _fields_of(
    table: reflection.Table | None, meta_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A collection's fields: every column and every directus_fields row, in Directus's
    order (by sort, then name; columns without a row last)."""
    by_name: dict[str, dict[str, Any]] = {}
    meta_of = {str(r["field"]): r for r in meta_rows}
    ordered = sorted(meta_rows, key=lambda r: (r["sort"] is None, r["sort"] or 0, str(r["field"])))
    names = [str(r["field"]) for r in ordered]
    if table is not None:
        names += sorted(n for n in table.columns if n not in meta_of)
    for name in names:
        row = meta_of.get(name)
        meta = (
            {
                k: decode(spec, _CODECS.get(k, "native"), row.get(k))
                for k, spec in META_FIELDS.items()
            }
            if row is not None
            else None
        )
        column = table.columns.get(name) if table is not None else None
        if column is not None:
            by_name[name] = {
                "field": name,
                "type": column.type,
                "schema": column.schema,
                "meta": meta,
            }
        else:
            by_name[name] = {"field": name, "type": ALIAS, "schema": None, "meta": meta}
    return [by_name[n] for n in names]
