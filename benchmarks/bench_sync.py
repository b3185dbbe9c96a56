"""Benchmark: export, plan and apply on the example and on a large generated app.

Prints figures; asserts nothing about time (targets live here, not in timed tests).

    python benchmarks/bench_sync.py                     # SQLite, example + 10k objects
    python benchmarks/bench_sync.py --objects 2000 --postgres postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, insert, text

from appsync.cli.main import cli
from appsync.instance.example import uid
from appsync.instance.schema import build_metadata
from appsync.kinds import registry


def appsync(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    if result.exit_code not in (0, 2):
        raise SystemExit(f"appsync {' '.join(args)} failed ({result.exit_code}): {result.output}")
    return result.output


def timed(label: str, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds * 1000:9.0f} ms")
    return seconds


def add_objects(url: str, count: int) -> None:
    """``count`` queries and pages in the invoices app, in bulk."""
    metadata = build_metadata(registry())
    app = uid("app/invoices")
    queries = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"q{i}")),
            "app_id": app,
            "name": f"Generated query {i}",
            "sql": f"SELECT {i} AS n\nFROM invoices\n",
            "parameters": [],
            "allowed_roles": [],
        }
        for i in range(count // 2)
    ]
    pages = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{i}")),
            "app_id": app,
            "name": f"Generated page {i}",
            "route": f"/generated/{i}",
            "parent_id": None,
            "widgets": [{"id": "w", "pane": "main", "type": "text", "props": {"label": str(i)}}],
        }
        for i in range(count - count // 2)
    ]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(metadata.tables["queries"]), queries)
        connection.execute(insert(metadata.tables["pages"]), pages)
    engine.dispose()


def scenario(name: str, dev: str, prod: str, work: Path, extra: int) -> None:
    print(f"{name}:")
    appsync("instance", "init", dev, "--example")
    appsync("instance", "init", prod)
    if extra:
        add_objects(dev, extra)
    repo = work / f"repo-{name}"
    appsync("init", str(repo))
    timed("export (first, writes the tree)", lambda: appsync("export", dev, "--repo", str(repo)))
    timed("export (no-op)", lambda: appsync("export", dev, "--repo", str(repo)))
    timed(
        "plan (everything to create)",
        lambda: appsync("plan", prod, "--repo", str(repo), "--format", "json"),
    )
    timed("apply (create everything)", lambda: appsync("apply", prod, "--repo", str(repo), "--yes"))
    out = appsync("plan", prod, "--repo", str(repo), "--format", "json")
    summary = json.loads(out)["summary"]
    timed("plan (no-op)", lambda: appsync("plan", prod, "--repo", str(repo)))
    timed("apply (no-op)", lambda: appsync("apply", prod, "--repo", str(repo), "--yes"))
    print(f"  objects: {summary['unchanged']} unchanged after apply")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--postgres", help="A PostgreSQL server URL to benchmark on as well.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        scenario("example-sqlite", f"sqlite:///{work}/d1.db", f"sqlite:///{work}/p1.db", work, 0)
        scenario(
            f"{args.objects}-sqlite",
            f"sqlite:///{work}/d2.db",
            f"sqlite:///{work}/p2.db",
            work,
            args.objects,
        )
        if args.postgres:
            server = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            names = [f"appsync_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
            with server.connect() as connection:
                for db in names:
                    connection.execute(text(f'CREATE DATABASE "{db}"'))
            try:
                urls = [server.url.set(database=db).render_as_string(False) for db in names]
                scenario(f"{args.objects}-postgres", urls[0], urls[1], work, args.objects)
            finally:
                with server.connect() as connection:
                    for db in names:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                server.dispose()


if __name__ == "__main__":
    main()
