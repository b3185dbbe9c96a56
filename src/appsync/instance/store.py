"""The generic SQL side of the port: platform rows <-> model objects, over one connection.

Reads are bulk (one query per table, never one per object); writes are executemany batches.
What a kind's manifest says is all it does: columns and codecs, child tables as keyed lists,
row filters, derived ids for rows without a stable UUID, built-in rows matched by their
definition, references translated between tree ids and platform ids, and deferred fields
written once everything they point at exists. Secret and volatile columns are never
selected and never written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Result, and_, bindparam, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from appsync.canonical.ids import builtin_id, child_id, derived_id, project_app_id
from appsync.canonical.jsonform import jcs
from appsync.canonical.revs import make_obj
from appsync.heap import kept
from appsync.instance.mapping import ChildTable, KindTable, decode, decodes, encode, mapping_for
from appsync.kinds import KindSpec, Registry
from appsync.model import Obj
from appsync.paths import map_at
from appsync.progress import report
from appsync.secrets import restore

CHUNK = 500
Key = tuple[str, str]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _filters(kt: KindTable) -> list[ColumnElement[bool]]:
    table = kt.table
    return [
        table.c[name].is_(None) if value is None else table.c[name] == value
        for name, value in kt.spec.storage.where.items()
    ]


def _key_json(value: Any) -> bytes:
    return jcs(list(value) if isinstance(value, tuple) else value)


class SqlStore:
    """Model objects of one platform on one connection (inside the caller's transaction)."""

    def __init__(self, connection: Connection, registry: Registry) -> None:
        self.connection = connection
        self.registry = registry
        self.mapping = mapping_for(registry)
        self.app_id = project_app_id(registry)
        self.rows: Counter[str] = Counter()
        #: Kinds read whole (their tree ids are not their platform ids): objects by tree id,
        #: and tree id <-> platform id.
        self._whole: dict[str, dict[str, Obj]] = {}
        self._to_platform: dict[str, dict[str, Any]] = {}
        self._to_tree: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ ids

    def _indexed(self, spec: KindSpec) -> bool:
        """Whether a kind's tree ids differ from its platform ids (read whole to map them)."""
        return spec.identity.strategy != "uuid" or bool(spec.storage.builtins)

    def _index(self, kind: str) -> None:
        if kind not in self._whole:
            self._read_whole(self.registry.get(kind))

    def tree_id(self, kind: str, platform_id: Any) -> Any:
        spec = self.registry.get(kind)
        if platform_id is None or not self._indexed(spec):
            return platform_id
        self._index(kind)
        return self._to_tree[kind].get(str(platform_id), platform_id)

    def platform_id(self, kind: str, tree_id: Any) -> Any:
        spec = self.registry.get(kind)
        if tree_id is None or not self._indexed(spec):
            return tree_id
        self._index(kind)
        return self._to_platform[kind].get(str(tree_id), tree_id)

    def _converter(self, kind: str, *, to_tree: bool) -> Callable[[Any], Any]:
        if to_tree:
            return lambda value: self.tree_id(kind, value)
        return lambda value: self.platform_id(kind, value)

    def _map_refs(
        self, spec: KindSpec, content: dict[str, Any], *, to_tree: bool
    ) -> dict[str, Any]:
        for ref in spec.references:
            if not ref.kind or ref.by != "id" or not self._indexed(self.registry.get(ref.kind)):
                continue
            content = map_at(content, ref.path, self._converter(ref.kind, to_tree=to_tree))
        return content

    # ------------------------------------------------------------------ reading

    def read_all(self, kinds: Iterable[str] | None = None) -> list[Obj]:
        """Every object of the given kinds (all by default), in apply order."""
        wanted = set(kinds) if kinds is not None else set(self.registry.names)
        objs: list[Obj] = []
        with kept():
            for spec in self.registry:
                if spec.kind in wanted:
                    objs.extend(self._read_whole(spec).values())
                    report("reading objects", len(objs))
        return objs

    def read_keys(self, keys: Iterable[Key]) -> dict[Key, Obj]:
        """The live objects with these keys: indexed kinds are read whole, others by id."""
        by_kind: dict[str, set[str]] = {}
        for kind, oid in keys:
            by_kind.setdefault(kind, set()).add(oid)
        found: dict[Key, Obj] = {}
        for kind, ids in by_kind.items():
            spec = self.registry.get(kind)
            if self._indexed(spec) or spec.kind in self._whole:
                whole = self._read_whole(spec)
                found.update({(kind, i): whole[i] for i in ids if i in whole})
                continue
            kt = self.mapping.of(kind)
            for part in chunks(sorted(ids)):
                where = [kt.table.c[kt.id_column].in_(part), *_filters(kt)]
                for obj in self._read(spec, where):
                    found[obj.key] = obj
        return found

    def forget(self) -> None:
        """Drop what was read whole (after writes, a later read sees the new rows)."""
        self._whole.clear()
        self._to_platform.clear()
        self._to_tree.clear()

    def _read_whole(self, spec: KindSpec) -> dict[str, Obj]:
        cached = self._whole.get(spec.kind)
        if cached is not None:
            return cached
        self._whole[spec.kind] = {}
        self._to_platform[spec.kind] = {}
        self._to_tree[spec.kind] = {}
        objs = self._read(spec, _filters(self.mapping.of(spec.kind)), index=True)
        self._whole[spec.kind] = {o.id: o for o in objs}
        return self._whole[spec.kind]

    def _read(
        self, spec: KindSpec, where: list[ColumnElement[bool]], *, index: bool = False
    ) -> list[Obj]:
        kt = self.mapping.of(spec.kind)
        table = kt.table
        names = [*dict.fromkeys([*kt.columns.values(), kt.id_column])]
        builtin_columns = {c for b in spec.storage.builtins for c in b.match}
        names += [c for c in sorted(builtin_columns) if c not in names]
        query = select(*(table.c[n] for n in names)).where(*where)
        rows = _dicts(self.connection.execute(query.order_by(table.c[kt.id_column])))
        children = {
            name: self._read_children(ct, [r[kt.id_column] for r in rows])
            for name, ct in kt.children.items()
        }
        raw: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
        fields = [
            (f, c, spec.fields[f], kt.codecs[f], decodes(spec.fields[f], kt.codecs[f]))
            for f, c in kt.columns.items()
        ]
        for row in rows:
            content = {
                f: decode(field, codec, row[c]) if decoded else row[c]
                for f, c, field, codec, decoded in fields
            }
            pid = row[kt.id_column]
            for name in kt.children:
                content[name] = children[name].get(str(pid), [])
            raw.append((pid, content, row))
        # Ids first (references to this very kind map through them), then objects.
        ids = [self._tree_id_of(spec, pid, content, row) for pid, content, row in raw]
        if index:
            for (pid, _, _), tid in zip(raw, ids, strict=True):
                self._to_platform[spec.kind][tid] = pid
                self._to_tree[spec.kind][str(pid)] = tid
        contents: list[tuple[Any, dict[str, Any]]] = []
        for (pid, content, _), tid in zip(raw, ids, strict=True):
            content["id"] = tid
            content = self._map_refs(spec, content, to_tree=True)
            if spec.identity.strategy == "natural":
                content["id"] = derived_id(self.registry, spec, content)
                if index:
                    self._to_platform[spec.kind].pop(tid, None)
                    self._to_platform[spec.kind][content["id"]] = pid
                    self._to_tree[spec.kind][str(pid)] = content["id"]
            contents.append((pid, content))
        if spec.storage.computed:
            self.complete(spec, contents)
        return [make_obj(spec, content, app_id=self.app_id) for _, content in contents]

    def complete(self, spec: KindSpec, contents: list[tuple[Any, dict[str, Any]]]) -> None:
        """Fill in the ``computed`` fields of objects just read (platform code)."""
        raise NotImplementedError(f"{self.registry.name}: no code computes {spec.kind} fields")

    def _tree_id_of(
        self, spec: KindSpec, pid: Any, content: dict[str, Any], row: dict[str, Any]
    ) -> str:
        for builtin in spec.storage.builtins:
            if all(_same(row.get(c), v) for c, v in builtin.match.items()):
                return builtin_id(self.registry, spec, builtin.name)
        derived = derived_id(self.registry, spec, content)
        return derived if derived is not None else str(pid)

    def _read_children(self, ct: ChildTable, parents: list[Any]) -> dict[str, list[dict[str, Any]]]:
        table = ct.table
        child = ct.spec
        names = list(dict.fromkeys([*ct.columns.values(), child.parent]))
        if child.order is not None:
            names.append(child.order)
        query = select(*(table.c[n] for n in dict.fromkeys(names)))
        if len(parents) <= CHUNK:
            query = query.where(table.c[child.parent].in_(parents))
        grouped: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
        wanted = {str(p) for p in parents}
        for mapping in _dicts(self.connection.execute(query)):
            parent = str(mapping[child.parent])
            if parent not in wanted:
                continue
            item = {
                f: decode(child.fields[f], ct.codecs[f], mapping[c]) for f, c in ct.columns.items()
            }
            position = mapping[child.order] if child.order is not None else None
            grouped.setdefault(parent, []).append((position, item))
        result: dict[str, list[dict[str, Any]]] = {}
        for parent, items in grouped.items():
            items.sort(
                key=lambda pi: (pi[0] is None, pi[0] or 0, _key_json(ct.keyed.key_of(pi[1])))
            )
            result[parent] = [item for _, item in items]
        return result

    # ------------------------------------------------------------------ writing

    def _row(self, spec: KindSpec, kt: KindTable, content: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for field, column in kt.columns.items():
            if field in spec.storage.deferred:
                row[column] = None
                continue
            row[column] = encode(spec.fields[field], kt.codecs[field], content.get(field))
        return row

    def create(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if not contents:
            return
        kt = self.mapping.of(spec.kind)
        contents = [restore(spec, dict(c), None) for c in contents]
        prepared = [self._map_refs(spec, dict(c), to_tree=False) for c in contents]
        rows = []
        for content in prepared:
            row = self._row(spec, kt, content)
            if spec.identity.strategy == "uuid" and kt.id_column not in row:
                row[kt.id_column] = content["id"]
            row.update(spec.storage.where)
            rows.append(row)
        self.connection.execute(insert(kt.table), rows)
        self._count(spec.storage.table, len(rows))
        pids = [self._pid_for_new(spec, kt, c, r) for c, r in zip(prepared, rows, strict=True)]
        for name, ct in kt.children.items():
            self._sync_children(ct, prepared, pids, name, existing={})
        self._write_deferred(spec, kt, prepared, pids)
        self.forget()

    def _pid_for_new(
        self, spec: KindSpec, kt: KindTable, content: Mapping[str, Any], row: dict[str, Any]
    ) -> Any:
        if kt.id_column in row:
            return row[kt.id_column]
        if not kt.children and not spec.storage.deferred:
            return None
        found = self.connection.execute(
            select(kt.table.c[kt.id_column]).where(
                *(kt.table.c[c] == row[c] for c in row if row[c] is not None)
            )
        ).scalar()
        return found

    def _restored(
        self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Contents to write with each secret marker replaced by the target's own value."""
        if not spec.secrets:
            return [dict(c) for c in contents]
        live = self.read_keys([(spec.kind, str(c["id"])) for c in contents])
        restored = []
        for content in contents:
            own = live.get((spec.kind, str(content["id"])))
            restored.append(restore(spec, dict(content), own.content if own else None))
        return restored

    def update(self, spec: KindSpec, contents: Sequence[Mapping[str, Any]]) -> None:
        if not contents:
            return
        kt = self.mapping.of(spec.kind)
        contents = self._restored(spec, contents)
        prepared = [self._map_refs(spec, dict(c), to_tree=False) for c in contents]
        pids = [self._platform_id_of(spec, c) for c in prepared]
        existing = {name: self._existing_children(ct, pids) for name, ct in kt.children.items()}
        self._clear_deferred(spec, kt, pids)
        names = [c for f, c in kt.columns.items() if c != kt.id_column]
        if names:
            statement = (
                update(kt.table)
                .where(kt.table.c[kt.id_column] == bindparam("_pid"))
                .values({n: bindparam(f"_v_{n}") for n in names})
            )
            params = []
            for content, pid in zip(prepared, pids, strict=True):
                row = self._row(spec, kt, content)
                params.append({"_pid": pid, **{f"_v_{n}": row[n] for n in names}})
            result = self.connection.execute(statement, params)
            self._count(
                spec.storage.table, result.rowcount if result.rowcount >= 0 else len(params)
            )
        for name, ct in kt.children.items():
            self._sync_children(ct, prepared, pids, name, existing=existing[name])
        self._write_deferred(spec, kt, prepared, pids)
        self.forget()

    def delete(self, spec: KindSpec, ids: Sequence[str]) -> None:
        kt = self.mapping.of(spec.kind)
        pids = [self.platform_id(spec.kind, i) for i in ids]
        self._clear_deferred(spec, kt, pids)
        for ct in kt.children.values():
            for part in chunks(pids):
                result = self.connection.execute(
                    delete(ct.table).where(ct.table.c[ct.spec.parent].in_(part))
                )
                self._count(ct.spec.table, result.rowcount)
        for part in chunks(pids):
            result = self.connection.execute(
                delete(kt.table).where(kt.table.c[kt.id_column].in_(part), *_filters(kt))
            )
            self._count(spec.storage.table, result.rowcount)
        self.forget()

    def _platform_id_of(self, spec: KindSpec, content: Mapping[str, Any]) -> Any:
        return self.platform_id(spec.kind, content["id"])

    def _count(self, table: str, n: int) -> None:
        self.rows[table] += max(n, 0)

    # ------------------------------------------------------------------ children

    def _existing_children(
        self, ct: ChildTable, pids: Sequence[Any]
    ) -> dict[str, dict[bytes, dict[str, Any]]]:
        """Current child rows of these parents: parent -> key -> the row's columns."""
        table = ct.table
        found: dict[str, dict[bytes, dict[str, Any]]] = {}
        for part in chunks(list(pids)):
            for row in self.connection.execute(
                select(table).where(table.c[ct.spec.parent].in_(part))
            ):
                mapping = dict(zip(row._fields, row, strict=True))
                item = {
                    f: decode(ct.spec.fields[f], ct.codecs[f], mapping[c])
                    for f, c in ct.columns.items()
                }
                key = _key_json(ct.keyed.key_of(item))
                found.setdefault(str(mapping[ct.spec.parent]), {})[key] = {"_item": item, **mapping}
        return found

    def _child_where(
        self, ct: ChildTable, parent: Any, row: Mapping[str, Any]
    ) -> list[ColumnElement[bool]]:
        table = ct.table
        if ct.spec.id is not None and row.get(ct.spec.id) is not None:
            return [table.c[ct.spec.id] == row[ct.spec.id]]
        where: list[ColumnElement[bool]] = [table.c[ct.spec.parent] == parent]
        for key in ct.keyed.key:
            column = table.c[ct.columns[key]]
            value = row[ct.columns[key]]
            where.append(column.is_(None) if value is None else column == value)
        return where

    def _child_row(
        self, ct: ChildTable, item: Mapping[str, Any], parent: Any, position: int
    ) -> dict[str, Any]:
        row = {
            ct.columns[f]: (
                None
                if f in ct.spec.deferred
                else encode(ct.spec.fields[f], ct.codecs[f], item.get(f))
            )
            for f in ct.columns
        }
        row[ct.spec.parent] = parent
        if ct.spec.order is not None:
            row[ct.spec.order] = position
        return row

    def _sync_children(
        self,
        ct: ChildTable,
        contents: Sequence[Mapping[str, Any]],
        pids: Sequence[Any],
        field: str,
        *,
        existing: Mapping[str, Mapping[bytes, Mapping[str, Any]]],
    ) -> None:
        table = ct.table
        inserts: list[dict[str, Any]] = []
        for content, pid in zip(contents, pids, strict=True):
            items = content.get(field) or []
            have = existing.get(str(pid), {})
            want: dict[bytes, tuple[int, Mapping[str, Any]]] = {}
            for position, item in enumerate(items, start=1):
                want[_key_json(ct.keyed.key_of(item))] = (position, item)
            for key, row in have.items():
                if key not in want:
                    self.connection.execute(delete(table).where(*self._child_where(ct, pid, row)))
                    self._count(ct.spec.table, 1)
            deferred = set(ct.spec.deferred)
            for key, (position, item) in want.items():
                values = self._child_row(ct, item, pid, position)
                old = have.get(key)
                if old is None:
                    column = ct.spec.id
                    if column is not None and ct.spec.id_strategy == "derived":
                        values.setdefault(column, child_id(str(content["id"]), field, key.decode()))
                    inserts.append(values)
                    continue
                before = {f: v for f, v in old["_item"].items() if f not in deferred}
                after = {f: item.get(f) for f in ct.columns if f not in deferred}
                moved = ct.spec.order is not None and old.get(ct.spec.order) != position
                if before != after or moved:
                    self.connection.execute(
                        update(table).where(*self._child_where(ct, pid, old)).values(values)
                    )
                    self._count(ct.spec.table, 1)
        if inserts:
            self.connection.execute(insert(table), inserts)
            self._count(ct.spec.table, len(inserts))

    # ------------------------------------------------------------------ deferred fields

    def _clear_deferred(self, spec: KindSpec, kt: KindTable, pids: Sequence[Any]) -> None:
        """Null the deferred fields of rows about to change, so that no unique or foreign
        key constraint sees an intermediate state."""
        if spec.storage.deferred:
            columns = {kt.columns[f]: None for f in spec.storage.deferred}
            for part in chunks(list(pids)):
                self.connection.execute(
                    update(kt.table).where(kt.table.c[kt.id_column].in_(part)).values(columns)
                )
        for ct in kt.children.values():
            if not ct.spec.deferred:
                continue
            columns = {ct.columns[f]: None for f in ct.spec.deferred}
            for part in chunks(list(pids)):
                self.connection.execute(
                    update(ct.table).where(ct.table.c[ct.spec.parent].in_(part)).values(columns)
                )

    def _write_deferred(
        self,
        spec: KindSpec,
        kt: KindTable,
        contents: Sequence[Mapping[str, Any]],
        pids: Sequence[Any],
    ) -> None:
        for name, ct in kt.children.items():
            if not ct.spec.deferred:
                continue
            for content, pid in zip(contents, pids, strict=True):
                for item in content.get(name) or []:
                    values = {
                        ct.columns[f]: encode(ct.spec.fields[f], ct.codecs[f], item.get(f))
                        for f in ct.spec.deferred
                    }
                    if all(v is None for v in values.values()):
                        continue
                    row = {ct.columns[k]: item.get(k) for k in ct.keyed.key}
                    where = [ct.table.c[ct.spec.parent] == pid]
                    where += [
                        ct.table.c[c].is_(None) if v is None else ct.table.c[c] == v
                        for c, v in row.items()
                    ]
                    self.connection.execute(update(ct.table).where(and_(*where)).values(values))
        if spec.storage.deferred:
            for content, pid in zip(contents, pids, strict=True):
                values = {
                    kt.columns[f]: encode(spec.fields[f], kt.codecs[f], content.get(f))
                    for f in spec.storage.deferred
                }
                if any(v is not None for v in values.values()):
                    self.connection.execute(
                        update(kt.table).where(kt.table.c[kt.id_column] == pid).values(values)
                    )


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return actual is not None and (
            bool(actual) == expected
            if not isinstance(actual, str)
            else actual.strip().lower() in (("1", "true") if expected else ("0", "false"))
        )
    return actual == expected if expected is not None else actual is None


def _dicts(result: Result[Any]) -> list[dict[str, Any]]:
    """Rows as dicts by column name (several times faster than ``dict(row._mapping)``),
    fetched at once (the driver's fetchall, not a fetchone per row)."""
    names = list(result.keys())
    return [dict(zip(names, row, strict=False)) for row in result.all()]  # rows are whole
