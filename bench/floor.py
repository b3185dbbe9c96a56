"""The floor: the least work each benchmarked step must do, run as its own small process.

    python bench/floor.py select URL            one plain SELECT * per table, every row fetched
    python bench/floor.py hash DIR              sha256 of every file under DIR (but .git)
    python bench/floor.py copy SOURCE TARGET    every object row of SOURCE inserted into TARGET
    python bench/floor.py update SOURCE TARGET IDS
                                                the rows named in IDS (JSON {table: [id]})
                                                read from SOURCE and updated in TARGET

Only the standard library and the database driver (sqlite3, psycopg): no SQLAlchemy, no
appsync. Writes run in one transaction with the driver's executemany. Each command prints
what it did ("rows 10042"), so the harness can check it did the work.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

#: The platform's object tables; ``copy`` and ``update`` write these and no others.
OBJECT_TABLES = (
    "roles",
    "users",
    "apps",
    "pages",
    "data_tables",
    "queries",
    "workflows",
    "functions",
    "files",
    "reports",
    "connectors",
)


class Database:
    """One connection through the plain driver, and its placeholder style."""

    def __init__(self, url: str, *, json_as_text: bool = False) -> None:
        self.postgres = url.startswith("postgresql")
        self.connection: Any  # sqlite3.Connection or psycopg.Connection
        if self.postgres:
            import psycopg
            from psycopg.types.string import TextLoader

            self.connection = psycopg.connect("postgresql" + url[url.index("://") :])
            if json_as_text:  # copy JSON as the text it is stored as, not parsed
                self.connection.adapters.register_loader("json", TextLoader)
            self.mark = "%s"
        else:
            import sqlite3

            prefix = "sqlite:///"
            if not url.startswith(prefix):
                raise SystemExit(f"not a SQLite file URL: {url}")
            self.connection = sqlite3.connect(url[len(prefix) :])
            self.mark = "?"

    def tables(self) -> list[str]:
        if self.postgres:
            query = (
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' ORDER BY 1"
            )
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
        cursor = self.connection.cursor()
        cursor.execute(query)
        return [row[0] for row in cursor.fetchall()]

    def rows(self, table: str, ids: Sequence[str] | None = None) -> tuple[list[str], list[Any]]:
        cursor = self.connection.cursor()
        if ids is None:
            cursor.execute(f'SELECT * FROM "{table}"')
        else:
            marks = ", ".join([self.mark] * len(ids))
            cursor.execute(f'SELECT * FROM "{table}" WHERE id IN ({marks})', list(ids))
        rows = cursor.fetchall()
        return [column[0] for column in cursor.description], rows


def select(url: str) -> str:
    db = Database(url)
    try:
        total = sum(len(db.rows(table)[1]) for table in db.tables())
    finally:
        db.connection.close()
    return f"rows {total}"


def _files(root: Path) -> Iterator[Path]:
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name != ".git")
        for name in sorted(names):
            yield Path(folder, name)


def hash_files(root: str) -> str:
    digest, count = hashlib.sha256(), 0
    for path in _files(Path(root)):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
        count += 1
    return f"files {count} {digest.hexdigest()[:16]}"


def copy(source_url: str, target_url: str) -> str:
    source, target = Database(source_url, json_as_text=True), Database(target_url)
    total = 0
    try:
        cursor = target.connection.cursor()
        for table in OBJECT_TABLES:
            columns, rows = source.rows(table)
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join([target.mark] * len(columns))
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
            total += len(rows)
        target.connection.commit()
    finally:
        source.connection.close()
        target.connection.close()
    return f"rows {total}"


def update(source_url: str, target_url: str, ids_file: str) -> str:
    wanted: dict[str, list[str]] = json.loads(Path(ids_file).read_text())
    source, target = Database(source_url, json_as_text=True), Database(target_url)
    total = 0
    try:
        cursor = target.connection.cursor()
        for table, ids in sorted(wanted.items()):
            columns, rows = source.rows(table, ids)
            at = columns.index("id")
            sets = ", ".join(f'"{c}" = {target.mark}' for c in columns if c != "id")
            params = [[*row[:at], *row[at + 1 :], row[at]] for row in rows]
            cursor.executemany(f'UPDATE "{table}" SET {sets} WHERE id = {target.mark}', params)
            total += len(rows)
        target.connection.commit()
    finally:
        source.connection.close()
        target.connection.close()
    return f"rows {total}"


def main(argv: Sequence[str]) -> None:
    commands: dict[str, Callable[..., str]] = {
        "select": select,
        "hash": hash_files,
        "copy": copy,
        "update": update,
    }
    if not argv or argv[0] not in commands:
        raise SystemExit(__doc__)
    print(commands[argv[0]](*argv[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
