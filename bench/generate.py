"""Benchmark data: a reference instance filled with N objects in the example's mix of kinds.

    python bench/generate.py sqlite:///big.db --objects 10000 --seed 1
    python bench/generate.py sqlite:///big.db --mutate 1 --seed 1 [--changed FILE]

The instance is made by ``appsync instance init URL`` (exactly what the CLI creates; a
PostgreSQL database must exist and be empty), then filled with bulk inserts (SQLAlchemy Core
executemany into the reflected tables, one transaction). The same size and seed give the
same rows, byte for byte, in every table but ``appsync_meta``, whose ``instance_id`` the
CLI draws at random.

The objects have the shapes of the example (``appsync instance init --example``): apps of
about 1,000 objects each (at least two), instance-wide roles and users, pages with widgets
in panes, data tables with columns, queries with multi-line SQL, workflows with states and
transitions, functions with bodies in five languages, text and small binary files, reports
and connectors (with secret credentials). Every reference resolves: pages name queries and
earlier pages of their app, reports name queries of their app, users and queries name
roles, and the few workflow transitions into another app name an app that exists.

``--mutate PERCENT`` changes that share of the objects (at least one), chosen and changed
by the seed alone: a label, a line of SQL or code, a new column, some file bytes. Each is an
update a plan shows; none touches a secret column.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import json
import math
import random
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, bindparam, create_engine, insert, select, update
from sqlalchemy.engine import make_url

#: Kinds and their tables, in the order of the reference schema.
TABLES = {
    "role": "roles",
    "user": "users",
    "app": "apps",
    "page": "pages",
    "table": "data_tables",
    "query": "queries",
    "workflow": "workflows",
    "function": "functions",
    "file": "files",
    "report": "reports",
    "connector": "connectors",
}

#: Objects per 1,000 that are not apps. Pages and queries dominate, as in real apps.
MIX = {
    "role": 10,
    "user": 60,
    "page": 250,
    "table": 80,
    "query": 250,
    "workflow": 40,
    "function": 120,
    "file": 60,
    "report": 80,
    "connector": 50,
}
OBJECTS_PER_APP = 1000
MIN_OBJECTS = 20

_NAMESPACE = uuid.UUID("0b6c3f4e-91d2-4c4a-8f0e-5d7a2e9b1c30")


def _words(text: str) -> list[str]:
    return text.split()


_WORDS = _words(
    "account approval asset budget campaign claim contract customer delivery expense invoice "
    "ledger order payment payroll project purchase quote refund shipment supplier ticket "
    "timesheet vendor warehouse"
)
_ADJECTIVES = _words(
    "active archived daily draft monthly open overdue pending quarterly recent weekly yearly"
)
_COLUMNS = _words(
    "id number name status amount currency due_date paid_at created_at owner_id region "
    "category priority total quantity vat_id iban email phone notes"
)
_TYPES = ("uuid", "text", "numeric(12,2)", "date", "timestamp", "boolean", "integer")
_GRANTS = [f"{w}:{a}" for w in _WORDS[:12] for a in ("read", "write", "approve")]
_WIDGETS = ("heading", "text", "button", "link", "table", "chart", "form", "search")
_PANES = ("header", "main", "sidebar", "footer")
_LANGUAGES = (
    ("javascript", 40),
    ("python", 30),
    ("typescript", 15),
    ("sql", 10),
    ("shell", 5),
)
_TEXT_FILES = (
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("txt", "text/plain"),
    ("json", "application/json"),
)
_COMMENT = {"javascript": "//", "typescript": "//", "python": "#", "shell": "#", "sql": "--"}


def appsync_command() -> list[str]:
    """The appsync CLI of this Python environment: its console script, else ``-m``."""
    script = Path(sys.executable).with_name("appsync")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "appsync"]


def counts_for(objects: int) -> dict[str, int]:
    """How many objects of each kind make ``objects`` in all (largest remainder)."""
    if objects < MIN_OBJECTS:
        raise ValueError(f"--objects must be at least {MIN_OBJECTS}")
    apps = max(2, math.ceil(objects / OBJECTS_PER_APP))
    rest = objects - apps - len(MIX)  # every kind gets one before the shares
    shares = {kind: rest * weight / sum(MIX.values()) for kind, weight in MIX.items()}
    counts = {kind: 1 + int(share) for kind, share in shares.items()}
    left = objects - apps - sum(counts.values())
    for kind in sorted(MIX, key=lambda k: (-(shares[k] % 1), k))[:left]:
        counts[kind] += 1
    return {"app": apps, **counts}


class _Maker:
    """Rows of every kind, drawn from one seeded random stream in a fixed order."""

    def __init__(self, seed: int, counts: dict[str, int]) -> None:
        self.seed = seed
        self.rng = random.Random(f"appsync-bench:{seed}")
        self.counts = counts
        self.apps: list[str] = [self.uid("app", i) for i in range(counts["app"])]
        self.roles: list[str] = []
        self.queries: dict[str, list[str]] = {app: [] for app in self.apps}
        self.pages: dict[str, list[str]] = {app: [] for app in self.apps}

    def uid(self, kind: str, index: int) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.seed}/{kind}/{index}"))

    def app_of(self, index: int) -> str:
        return self.apps[index % len(self.apps)]

    def title(self, index: int) -> str:
        words = (self.rng.choice(_ADJECTIVES), self.rng.choice(_WORDS))
        return f"{words[0].title()} {words[1]}s {index}"

    def sentence(self, low: int, high: int) -> str:
        words = [self.rng.choice(_WORDS + _ADJECTIVES) for _ in range(self.rng.randint(low, high))]
        return " ".join(words).capitalize() + "."

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        makers: dict[str, Callable[[int], dict[str, Any]]] = {
            "role": self.role,
            "user": self.user,
            "app": self.app,
            "query": self.query,  # before pages and reports, which name queries
            "page": self.page,
            "table": self.table,
            "workflow": self.workflow,
            "function": self.function,
            "file": self.file,
            "report": self.report,
            "connector": self.connector,
        }
        return {
            TABLES[kind]: [make(i) for i in range(self.counts[kind])]
            for kind, make in makers.items()
        }

    def role(self, i: int) -> dict[str, Any]:
        self.roles.append(self.uid("role", i))
        grants = sorted(self.rng.sample(_GRANTS, self.rng.randint(1, 6)))
        return {
            "id": self.roles[-1],
            "name": f"{self.rng.choice(_WORDS).title()} team {i}",
            "description": self.sentence(3, 12),
            "grants": grants,
        }

    def user(self, i: int) -> dict[str, Any]:
        login = f"user{i:06d}"
        secret = hashlib.sha256(f"{self.seed}:{login}".encode()).hexdigest()
        return {
            "id": self.uid("user", i),
            "login": login,
            "email": f"{login}@example.com",
            "name": f"{self.rng.choice(_WORDS).title()} {self.rng.choice(_WORDS).title()}",
            "active": self.rng.random() < 0.9,
            "role_ids": self.rng.sample(self.roles, min(len(self.roles), self.rng.randint(1, 3))),
            "password_hash": f"pbkdf2_sha256$1000${secret[:16]}${secret}"
            if self.rng.random() < 0.85
            else None,
        }

    def app(self, i: int) -> dict[str, Any]:
        return {
            "id": self.apps[i],
            "name": f"{self.rng.choice(_WORDS)}-app-{i}",
            "schema_version": "1.2",
            "description": self.sentence(4, 16),
            "workspace": self.rng.choice(("finance", "procurement", "sales", "operations")),
        }

    def query(self, i: int) -> dict[str, Any]:
        app, rng = self.app_of(i), self.rng
        columns = rng.sample(_COLUMNS, rng.randint(2, 7))
        entity = rng.choice(_WORDS)
        lines = [f"SELECT t.{columns[0]}", *(f"     , t.{c}" for c in columns[1:])]
        lines.append(f"FROM {entity}s t")
        if rng.random() < 0.5:
            other = rng.choice(_WORDS)
            lines.append(f"JOIN {other}s o ON o.id = t.{other}_id")
        parameters = []
        for n, column in enumerate(rng.sample(_COLUMNS, rng.randint(0, 3))):
            lines.append(f"{'WHERE' if n == 0 else '  AND'} t.{column} = :{column}")
            parameter: dict[str, Any] = {"name": column, "type": rng.choice(_TYPES)}
            if rng.random() < 0.5:
                parameter["required"] = True
            parameters.append(parameter)
        lines.append(f"ORDER BY t.{columns[-1]}")
        self.queries[app].append(self.uid("query", i))
        return {
            "id": self.queries[app][-1],
            "app_id": app,
            "name": self.title(i),
            "sql": "\n".join(lines) + "\n",
            "parameters": parameters,
            "allowed_roles": rng.sample(self.roles, min(len(self.roles), rng.randint(1, 2))),
        }

    def page(self, i: int) -> dict[str, Any]:
        app, rng = self.app_of(i), self.rng
        earlier, queries = self.pages[app], self.queries[app]
        widgets = []
        for w in range(rng.randint(2, 7)):
            kind = rng.choice(_WIDGETS)
            props: dict[str, Any] = {"label": self.sentence(1, 4)}
            if kind in ("table", "chart", "form") and queries:
                props["query_id"] = rng.choice(queries)
                props["columns"] = rng.sample(_COLUMNS, rng.randint(1, 5))
            if kind in ("button", "link") and earlier:
                props["page_id"] = rng.choice(earlier)
            if kind == "heading":
                props["level"] = rng.randint(1, 3)
            widgets.append(
                {"id": f"w{w}", "pane": rng.choice(_PANES), "type": kind, "props": props}
            )
        earlier.append(self.uid("page", i))
        return {
            "id": earlier[-1],
            "app_id": app,
            "name": self.title(i),
            "route": f"/{rng.choice(_WORDS)}s/{i}",
            "parent_id": rng.choice(earlier[:-1])
            if len(earlier) > 1 and rng.random() < 0.5
            else None,
            "widgets": widgets,
        }

    def table(self, i: int) -> dict[str, Any]:
        names = ["id", *self.rng.sample(_COLUMNS[1:], self.rng.randint(2, 15))]
        columns = [
            {
                "id": self.uid(f"column/{i}", n),
                "name": name,
                "type": "uuid" if name.endswith("id") else self.rng.choice(_TYPES),
                "position": n + 1,
                "archived": self.rng.random() < 0.05,
            }
            for n, name in enumerate(names)
        ]
        return {
            "id": self.uid("table", i),
            "app_id": self.app_of(i),
            "name": f"{self.rng.choice(_WORDS)}s_{i}",
            "columns": columns,
        }

    def workflow(self, i: int) -> dict[str, Any]:
        rng, app = self.rng, self.app_of(i)
        names = [
            "draft",
            *rng.sample(
                ("submitted", "review", "approved", "rejected", "paid", "archived", "escalated"),
                rng.randint(2, 6),
            ),
        ]
        states: list[dict[str, Any]] = [{"id": s, "label": s.title()} for s in names]
        states[0]["initial"] = True
        states[-1]["final"] = True
        transitions: list[dict[str, Any]] = [
            {"id": f"to-{b}", "from": a, "to": b, "roles": rng.sample(self.roles, 1)}
            for a, b in itertools.pairwise(names)
        ]
        if rng.random() < 0.1:
            transitions.append(
                {
                    "id": "hand-over",
                    "from": names[1],
                    "to": "intake",
                    "target_app_id": rng.choice([a for a in self.apps if a != app]),
                    "roles": rng.sample(self.roles, 1),
                }
            )
        return {
            "id": self.uid("workflow", i),
            "app_id": app,
            "name": self.title(i),
            "states": states,
            "transitions": transitions,
        }

    def function(self, i: int) -> dict[str, Any]:
        rng = self.rng
        language = rng.choices([lang for lang, _ in _LANGUAGES], [w for _, w in _LANGUAGES])[0]
        comment = _COMMENT[language]
        name = f"{rng.choice(_ADJECTIVES)}{rng.choice(_WORDS).title()}{i}"
        body = [f"{comment} {self.sentence(4, 10)}"]
        for n in range(rng.randint(4, 40)):
            column = rng.choice(_COLUMNS)
            body.append(
                {
                    "javascript": f"  const {column}{n} = input.{column} ?? {n};",
                    "typescript": f"  const {column}{n}: number = input.{column} ?? {n};",
                    "python": f"    {column}_{n} = record.get('{column}', {n})",
                    "sql": f"UPDATE {rng.choice(_WORDS)}s SET {column} = {n} WHERE id = :id;",
                    "shell": f'echo "{column} {n}" >> "$LOG"',
                }[language]
            )
        return {
            "id": self.uid("function", i),
            "app_id": self.app_of(i),
            "name": name,
            "language": language,
            "arguments": [
                {"name": c, "type": rng.choice(_TYPES)}
                for c in rng.sample(_COLUMNS, rng.randint(0, 3))
            ],
            "returns": rng.choice(("number", "string", "void", "boolean")),
            "body": "\n".join(body) + "\n",
        }

    def file(self, i: int) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            ext, mime, content = "png", "image/png", _png(rng, rng.randint(4, 32))
        elif roll < 0.4:
            ext, mime, content = (
                "bin",
                "application/octet-stream",
                rng.randbytes(rng.randint(16, 4096)),
            )
        else:
            ext, mime = rng.choice(_TEXT_FILES)
            lines = [self.sentence(3, 14) for _ in range(rng.randint(1, 60))]
            if ext == "json":
                lines = [json.dumps({"lines": lines}, indent=2)]
            content = ("\n".join(lines) + "\n").encode()
        return {
            "id": self.uid("file", i),
            "app_id": self.app_of(i),
            "name": f"{self.rng.choice(_WORDS)} {i}.{ext}",
            "mime_type": mime,
            "content": content,
        }

    def report(self, i: int) -> dict[str, Any]:
        rng, app = self.rng, self.app_of(i)
        queries = self.queries[app]
        datasets = [
            {"name": f"set{n}", "query_id": q}
            for n, q in enumerate(rng.sample(queries, min(len(queries), rng.randint(1, 2))))
        ]
        return {
            "id": self.uid("report", i),
            "app_id": app,
            "name": self.title(i),
            "definition": {
                "layout": rng.choice(("table", "list", "chart")),
                "datasets": datasets,
                "columns": rng.sample(_COLUMNS, rng.randint(1, 6)),
                "format": {"amount": rng.choice(("EUR", "USD", "CHF"))},
            },
        }

    def connector(self, i: int) -> dict[str, Any]:
        rng = self.rng
        host = rng.choice(_WORDS)
        return {
            "id": self.uid("connector", i),
            "app_id": self.app_of(i),
            "name": f"{host.title()} API {i}",
            "type": rng.choice(("rest", "graphql", "soap")),
            "base_url": f"https://{host}.example.com/api/v{rng.randint(1, 3)}",
            "functions": [
                {
                    "name": f"{method.lower()}{rng.choice(_WORDS).title()}{n}",
                    "method": method,
                    "path": f"/{rng.choice(_WORDS)}s/{{id}}",
                }
                for n, method in enumerate(
                    rng.choice(("GET", "POST", "PUT")) for _ in range(rng.randint(1, 6))
                )
            ],
            "credentials": json.dumps({"api_key": f"sk_bench_{rng.getrandbits(64):016x}"}),
        }


def _png(rng: random.Random, size: int) -> bytes:
    """A small valid PNG of seeded pixels, stored uncompressed (zlib level 0) so that its
    bytes do not depend on the zlib build."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + rng.randbytes(size * 3) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection, only=list(TABLES.values()))
    return metadata


def _chunks(items: Sequence[Any], size: int = 1000) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate(
    url: str, objects: int, seed: int, *, env: dict[str, str] | None = None
) -> dict[str, int]:
    """Create the instance at ``url`` and fill it; returns objects per kind."""
    counts = counts_for(objects)
    subprocess.run(
        [*appsync_command(), "instance", "init", url],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    rows = _Maker(seed, counts).rows()
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            metadata = _reflect(connection)
            for table, table_rows in rows.items():
                for batch in _chunks(table_rows):
                    connection.execute(insert(metadata.tables[table]), list(batch))
    finally:
        engine.dispose()
    return counts


def _revise(text: str) -> str:
    return f"{text} (revised)"


def _change_page(row: Any) -> dict[str, Any]:
    widgets = copy.deepcopy(row.widgets)
    widgets[0]["props"]["label"] = _revise(widgets[0]["props"]["label"])
    return {"widgets": widgets}


def _change_table(row: Any) -> dict[str, Any]:
    columns = [*row.columns]
    position = len(columns) + 1
    key = f"{row.id}/{position}"
    columns.append(
        {
            "id": str(uuid.uuid5(_NAMESPACE, key)),
            "name": f"added_{position}",
            "type": "text",
            "position": position,
            "archived": False,
        }
    )
    return {"columns": columns}


def _change_workflow(row: Any) -> dict[str, Any]:
    states = copy.deepcopy(row.states)
    states[0]["label"] = _revise(states[0]["label"])
    return {"states": states}


def _change_report(row: Any) -> dict[str, Any]:
    definition = copy.deepcopy(row.definition)
    definition["page_size"] = definition.get("page_size", 0) + 25
    return {"definition": definition}


def _change_file(row: Any) -> dict[str, Any]:
    text = not row.mime_type.startswith(("image/", "application/octet"))
    return {"content": bytes(row.content) + (b"Revised.\n" if text else b"\x00")}


#: One content change per table; each shows in a plan as an update of that object.
CHANGES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "roles": lambda row: {"description": _revise(row.description)},
    "users": lambda row: {"name": _revise(row.name)},
    "apps": lambda row: {"description": _revise(row.description)},
    "pages": _change_page,
    "data_tables": _change_table,
    "queries": lambda row: {"sql": row.sql + "-- revised\n"},
    "workflows": _change_workflow,
    "functions": lambda row: {"body": row.body + f"{_COMMENT[row.language]} revised\n"},
    "files": _change_file,
    "reports": _change_report,
    "connectors": lambda row: {"base_url": row.base_url + "/v2"},
}


def mutate(url: str, percent: float, seed: int) -> dict[str, list[str]]:
    """Change ``percent`` % of the objects (at least one); returns the changed ids per table."""
    rng = random.Random(f"appsync-bench-mutate:{seed}")
    engine = create_engine(url)
    changed: dict[str, list[str]] = {}
    try:
        with engine.begin() as connection:
            metadata = _reflect(connection)
            keys = [
                (name, object_id)
                for name in TABLES.values()
                for object_id in connection.execute(
                    select(metadata.tables[name].c.id).order_by(metadata.tables[name].c.id)
                ).scalars()
            ]
            count = min(len(keys), max(1, round(len(keys) * percent / 100)))
            for name, object_id in sorted(rng.sample(keys, count)):
                changed.setdefault(name, []).append(object_id)
            for name, ids in changed.items():
                _apply_changes(connection, metadata, name, ids)
    finally:
        engine.dispose()
    return changed


def _apply_changes(connection: Connection, metadata: MetaData, name: str, ids: list[str]) -> None:
    table = metadata.tables[name]
    updates = []
    for batch in _chunks(ids):
        for row in connection.execute(select(table).where(table.c.id.in_(batch))):
            updates.append({"b_id": row.id, **{f"b_{k}": v for k, v in CHANGES[name](row).items()}})
    columns = [key[2:] for key in updates[0] if key != "b_id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({column: bindparam(f"b_{column}") for column in columns})
    )
    connection.execute(statement, updates)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--objects", type=int, help="Create the instance with N objects.")
    what.add_argument("--mutate", type=float, metavar="PERCENT", help="Change PERCENT %% of it.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changed", type=Path, help="With --mutate: write the ids as JSON.")
    args = parser.parse_args(argv)
    shown = make_url(args.url).render_as_string(hide_password=True)
    started = time.perf_counter()
    if args.objects is not None:
        try:
            counts = generate(args.url, args.objects, args.seed)
        except ValueError as exc:
            parser.error(str(exc))
        summary = ", ".join(f"{n} {TABLES[kind]}" for kind, n in counts.items())
        print(f"Generated {sum(counts.values())} objects in {shown}: {summary}", end="")
    else:
        changed = mutate(args.url, args.mutate, args.seed)
        if args.changed:
            args.changed.write_text(json.dumps(changed, indent=2, sort_keys=True) + "\n")
        summary = ", ".join(f"{len(ids)} {name}" for name, ids in changed.items())
        total = sum(len(ids) for ids in changed.values())
        print(f"Changed {total} objects in {shown}: {summary}", end="")
    print(f" ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
