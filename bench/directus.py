"""Directus beside the reference platform: export and plan per object, from the real CLI.

    python bench/directus.py [--collections 50] [--fields 500] [--flows 50]
                             [--permissions 200] [--db sqlite,postgresql] [--repeat 3]
                             [--json FILE] [--quick]

A real Directus 12 (installed as the tests install it, tests/directus_server.py) bootstraps
an empty project; the project is then filled with SQL in one transaction — the core licence
refuses more than 25 collections and most permissions through the API, and a benchmark
needs a size, not a story: user tables with their columns (DDL), their
``directus_collections`` and ``directus_fields`` rows, policies with permissions, and flows
with two operations each. ``appsync instance adopt`` adds appsync's tables. Then, through
the CLI and timed as bench/run.py times (median of K runs, each a child process): export +
commit into an empty repository, no-op export, no-op plan. The same three run on a
reference instance of the same number of objects (bench/generate.py), so the figures are
seconds per object on both platforms, side by side, from one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import uuid
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, create_engine, insert, text, update

import generate
from databases import PostgresScratch, Scratch, SqliteScratch
from measure import BenchError, Figure, Runner, compile_appsync, expect_text
from run import child_env

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from tests.directus_server import Directus, install  # noqa: E402 (the tests' installer)

PG_ENV = "APPSYNC_TEST_DATABASE_URL"
NAMESPACE = uuid.UUID("5f0c2a53-86a4-4d4e-9a3b-2f4b7c1e9d10")
ACTIONS = ("create", "read", "update", "delete")
COLUMN_TYPES = (
    ("string", "varchar(255)", "input"),
    ("integer", "integer", "input"),
    ("text", "text", "input-multiline"),
    ("boolean", "boolean", "boolean"),
)


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


def fill(url: str, *, collections: int, fields: int, flows: int, permissions: int) -> None:
    """The project's definitions, written into Directus's tables (one transaction)."""
    rng = random.Random(7)
    per = max(2, fields // collections)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            meta = MetaData()
            meta.reflect(
                connection,
                only=[
                    "directus_collections",
                    "directus_fields",
                    "directus_policies",
                    "directus_permissions",
                    "directus_flows",
                    "directus_operations",
                ],
            )
            names = _collections(connection, meta, rng, collections, per)
            _permissions(connection, meta, names, permissions)
            _flows(connection, meta, flows)
    finally:
        engine.dispose()


def _collections(
    connection: Connection, meta: MetaData, rng: random.Random, count: int, per: int
) -> list[str]:
    names = [f"bench_{i:03d}" for i in range(count)]
    pk = (
        "serial PRIMARY KEY"
        if connection.dialect.name == "postgresql"
        else ("integer PRIMARY KEY AUTOINCREMENT")
    )
    field_rows: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        columns = [f'"id" {pk}']
        field_rows.append(
            {
                "collection": name,
                "field": "id",
                "interface": "input",
                "readonly": True,
                "hidden": True,
                "note": None,
                "sort": 1,
                "width": "full",
                "options": None,
            }
        )
        for j in range(1, per):
            kind, sql_type, interface = COLUMN_TYPES[(i + j) % len(COLUMN_TYPES)]
            column = f"{kind}_{j:02d}"
            columns.append(f'"{column}" {sql_type}')
            field_rows.append(
                {
                    "collection": name,
                    "field": column,
                    "interface": interface,
                    "readonly": False,
                    "hidden": False,
                    "note": f"Field {j} of {name}: {rng.choice(['plain', 'shown', 'kept'])}",
                    "sort": j + 1,
                    "width": "half" if j % 2 else "full",
                    "options": json.dumps({"placeholder": f"{column}…"}) if j % 3 == 0 else None,
                }
            )
        connection.execute(text(f'CREATE TABLE "{name}" ({", ".join(columns)})'))
    connection.execute(
        insert(meta.tables["directus_collections"]),
        [
            {"collection": n, "icon": "table_rows", "note": f"Benchmark collection {i}", "sort": i}
            for i, n in enumerate(names)
        ],
    )
    connection.execute(insert(meta.tables["directus_fields"]), field_rows)
    return names


def _permissions(connection: Connection, meta: MetaData, names: list[str], count: int) -> None:
    pairs = [(c, a) for c in names for a in ACTIONS]
    per_policy = min(20, len(pairs))  # a policy grants each (collection, action) once
    policies = [_uid("policy", i) for i in range((count + per_policy - 1) // per_policy)]
    connection.execute(
        insert(meta.tables["directus_policies"]),
        [
            {
                "id": p,
                "name": f"Bench policy {i}",
                "icon": "badge",
                "description": f"Policy {i} of the benchmark",
                "app_access": True,
            }
            for i, p in enumerate(policies)
        ],
    )
    rows = []
    for n in range(count):
        which, k = divmod(n, per_policy)
        policy = policies[which]
        collection, action = pairs[(k + which) % len(pairs)]
        rows.append({"collection": collection, "action": action, "fields": "*", "policy": policy})
    connection.execute(insert(meta.tables["directus_permissions"]), rows)


def _flows(connection: Connection, meta: MetaData, count: int) -> None:
    flows_table, ops = meta.tables["directus_flows"], meta.tables["directus_operations"]
    for i in range(count):
        flow, first, second = _uid("flow", i), _uid("op", i, 1), _uid("op", i, 2)
        connection.execute(
            insert(flows_table),
            {
                "id": flow,
                "name": f"Bench flow {i}",
                "icon": "bolt",
                "status": "active",
                "trigger": "webhook",
                "accountability": "all",
                "options": json.dumps({"method": "POST", "return": "$last"}),
            },
        )
        connection.execute(
            insert(ops),
            {
                "id": second,
                "name": "Shape",
                "key": "shape",
                "type": "transform",
                "position_x": 37,
                "position_y": 1,
                "options": json.dumps({"json": {"flow": i, "ok": True}}),
                "flow": flow,
            },
        )
        connection.execute(
            insert(ops),
            {
                "id": first,
                "name": "Log",
                "key": "log",
                "type": "log",
                "position_x": 19,
                "position_y": 1,
                "options": json.dumps({"message": f"flow {i} ran"}),
                "resolve": second,
                "flow": flow,
            },
        )
        connection.execute(
            update(flows_table).where(flows_table.c.id == flow).values(operation=first)
        )


class Side:
    """One platform's instance and the three figures measured on it."""

    def __init__(self, runner: Runner, folder: Path, url: str, repeat: int) -> None:
        self.runner = runner
        self.folder = folder
        self.url = url
        self.repeat = repeat
        self.appsync = generate.appsync_command()
        self.objects = 0

    def _fresh_repo(self, name: str) -> Path:
        repo = self.folder / name
        if repo.exists():
            shutil.rmtree(repo)
        self.runner.once([*self.appsync, "init", repo])
        self.runner.once([*self.appsync, "env", "add", "it", "--url", self.url, "--repo", repo])
        return repo

    def run(self, label: str) -> dict[str, Figure]:
        figures: dict[str, Figure] = {}
        figure = Figure("appsync export it -m x")
        repo = self.folder
        for i in range(self.repeat):
            repo = self._fresh_repo(f"export-{i}")
            sample = self.runner.once([*self.appsync, "export", "it", "-m", "x"], cwd=repo)
            if not sample.stdout.startswith("Exported "):
                raise BenchError(f"{label} export printed: {sample.stdout}")
            self.objects = int(sample.stdout.split()[1])
            figure.runs.append(sample.seconds)
            figure.rss_runs.append(sample.peak_rss_mib)
            self.runner.say(f"  {label} export + commit {sample.seconds:8.3f} s ({i + 1})")
        figures["export_commit"] = figure
        figures["noop_export"] = self.runner.measure(
            f"{label} no-op export",
            [*self.appsync, "export", "it"],
            repeat=self.repeat,
            cwd=repo,
            check=expect_text("No changes"),
        )
        figures["noop_plan"] = self.runner.measure(
            f"{label} no-op plan",
            [*self.appsync, "plan", "it", "--detailed-exitcode"],
            repeat=self.repeat,
            cwd=repo,
            check=expect_text("No changes"),
        )
        return figures


@dataclass(frozen=True)
class Size:
    collections: int
    fields: int
    flows: int
    permissions: int

    def half(self) -> Size:
        return Size(*(max(1, n // 2) for n in astuple(self)))


def _directus_side(
    runner: Runner, folder: Path, database: str, scratch: Scratch, size: Size, repeat: int
) -> Side:
    url = "sqlite" if database == "sqlite" else scratch.new(f"directus_{size.collections}")
    server = Directus(
        install(), folder / "directus", database=url, admin_email="admin@example.com", token="t"
    )
    runner.say(f"bootstrapping Directus on {database} ({size.collections} collections)")
    server.bootstrap()  # the database only: appsync reads and writes it directly
    fill(server.url, **asdict(size))
    runner.once([*generate.appsync_command(), "instance", "adopt", server.url])
    return Side(runner, folder, server.url, repeat)


def _measure(
    runner: Runner, work: Path, database: str, scratch: Scratch, size: Size, repeat: int
) -> dict[str, tuple[Side, dict[str, Figure]]]:
    """Both platforms at one size: Directus, then a reference instance as large."""
    folder = work / f"{database}-{size.collections}"
    directus = _directus_side(runner, folder / "d", database, scratch, size, repeat)
    d_figures = directus.run("directus")
    reference_url = scratch.new(f"reference_{size.collections}")
    objects = max(directus.objects, generate.MIN_OBJECTS)
    generate.generate(reference_url, objects, seed=1, env=runner.env)
    reference = Side(runner, folder / "r", reference_url, repeat)
    return {"directus": (directus, d_figures), "reference": (reference, reference.run("reference"))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--collections", type=int, default=50)
    parser.add_argument("--fields", type=int, default=500)
    parser.add_argument("--flows", type=int, default=50)
    parser.add_argument("--permissions", type=int, default=200)
    parser.add_argument("--db", help="sqlite,postgresql (default: both with a PG URL)")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5 collections, one run each.")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.collections, args.fields, args.flows, args.permissions = 5, 50, 5, 20
        args.repeat = 1
    full = Size(args.collections, args.fields, args.flows, args.permissions)
    databases = (args.db or ("sqlite,postgresql" if args.pg_url else "sqlite")).split(",")
    if "postgresql" in databases and not args.pg_url:
        parser.error(f"--db postgresql needs --pg-url or ${PG_ENV}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="appsync-bench-directus-") as tmp:
        work = Path(tmp)
        runner = Runner(work / "logs", child_env(work / "home"), quiet=args.quiet)
        compile_appsync()
        for database in databases:
            scratch: Scratch = (
                SqliteScratch(work / database)
                if database == "sqlite"
                else PostgresScratch(args.pg_url)
            )
            try:
                small = _measure(runner, work, database, scratch, full.half(), args.repeat)
                large = _measure(runner, work, database, scratch, full, args.repeat)
            finally:
                scratch.close()
            results[database] = _compare(small, large)
    document = {
        "format_version": 1,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "project": asdict(full),
        "repeat": args.repeat,
        "notes": [
            "seconds: median wall time of the runs, each a child process",
            "ms_per_object: seconds / objects at the full size (start-up included)",
            "marginal_ms_per_object: (full - half) seconds / (full - half) objects: what each "
            "further object costs, start-up and fixed work taken out",
        ],
        "results": results,
    }
    _print(document)
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")


def _compare(
    small: dict[str, tuple[Side, dict[str, Figure]]],
    large: dict[str, tuple[Side, dict[str, Figure]]],
) -> dict[str, Any]:
    objects = {p: {"half": small[p][0].objects, "full": large[p][0].objects} for p in large}
    rows: dict[str, Any] = {"objects": objects}
    for name in large["directus"][1]:
        row: dict[str, Any] = {}
        for side in ("directus", "reference"):
            big, little = large[side][1][name], small[side][1][name]
            n_big, n_little = objects[side]["full"], objects[side]["half"]
            row[f"{side}_seconds"] = round(big.seconds, 4)
            row[f"{side}_half_seconds"] = round(little.seconds, 4)
            row[f"{side}_peak_rss_mib"] = round(big.peak_rss_mib, 1)
            row[f"{side}_ms_per_object"] = round(1000 * big.seconds / n_big, 3)
            extra = max(n_big - n_little, 1)
            row[f"{side}_marginal_ms_per_object"] = round(
                1000 * (big.seconds - little.seconds) / extra, 3
            )
        row["ratio"] = round(row["directus_ms_per_object"] / row["reference_ms_per_object"], 3)
        reference_marginal = row["reference_marginal_ms_per_object"]
        row["marginal_ratio"] = (
            round(row["directus_marginal_ms_per_object"] / reference_marginal, 3)
            if reference_marginal > 0
            else None
        )
        rows[name] = row
    return rows


def _print(document: dict[str, Any]) -> None:
    project = document["project"]
    print(
        f"Directus project: {project['collections']} collections, {project['fields']} fields, "
        f"{project['flows']} flows, {project['permissions']} permissions, and half of it "
        f"(median of {document['repeat']})"
    )
    for database, rows in document["results"].items():
        objects = rows["objects"]
        print(
            f"\n{database}: {objects['directus']['full']} Directus objects "
            f"({objects['directus']['half']} at half size), {objects['reference']['full']} "
            f"reference objects ({objects['reference']['half']})"
        )
        heads = [("directus s", 10), ("ms/obj", 7), ("marg.", 6), ("reference s", 11)]
        heads += [("ms/obj", 7), ("marg.", 6), ("ratio", 6), ("marg.", 6)]
        print(f"  {'work':14} " + " ".join(f"{h:>{w}}" for h, w in heads))
        for name, row in rows.items():
            if name == "objects":
                continue
            marginal = row["marginal_ratio"]
            print(
                f"  {name:14} {row['directus_seconds']:10.3f}"
                f" {row['directus_ms_per_object']:7.2f}"
                f" {row['directus_marginal_ms_per_object']:6.2f}"
                f" {row['reference_seconds']:11.3f} {row['reference_ms_per_object']:7.2f}"
                f" {row['reference_marginal_ms_per_object']:6.2f} {row['ratio']:6.2f}"
                f" {marginal if marginal is not None else float('nan'):6.2f}"
            )


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"bench/directus.py: {exc}")
