"""Creating an instance: the reference schema, appsync's tables, optionally the example."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import insert

from appsync.errors import InstanceError
from appsync.instance.connect import Instance, open_instance, table_names, translate
from appsync.instance.example import example_rows
from appsync.instance.schema import META, OWN_TABLES, SCHEMA_VERSION, reference_metadata
from appsync.kinds import Registry


def init_instance(url_text: str, registry: Registry, *, example: bool) -> dict[str, int]:
    """Create the reference schema (and seed the example) in one transaction; refuse a
    database that already holds any of its tables. Returns rows written per table."""
    if registry.name != "reference":
        raise InstanceError(
            f"'instance init' creates reference instances; a {registry.name} database is "
            "created by the platform itself and then adopted ('appsync instance adopt')"
        )
    from appsync.instance.connect import parse_url

    url = parse_url(url_text)
    new_file: Path | None = None
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        new_file = None if path.exists() else path
    try:
        with open_instance(url_text, create=True, platform=registry.name) as instance:
            return _create(instance, registry, example=example)
    except BaseException:
        if new_file is not None and new_file.exists():
            new_file.unlink()
        raise


def _create(instance: Instance, registry: Registry, *, example: bool) -> dict[str, int]:
    metadata = reference_metadata(registry)
    ours = {spec.storage.table for spec in registry} | set(OWN_TABLES)
    present = sorted(ours & table_names(instance))
    if present:
        raise InstanceError(
            f"{instance.display} is not empty: it already has "
            f"{', '.join(present[:3])}{'...' if len(present) > 3 else ''}; "
            "'instance init' only creates new instances"
        )
    counts: dict[str, int] = {}
    with translate(instance.display), instance.engine.begin() as connection:
        metadata.create_all(connection)
        connection.execute(
            insert(metadata.tables[META]),
            [
                {"key": "schema_version", "value": SCHEMA_VERSION},
                {"key": "instance_id", "value": str(uuid.uuid4())},
                {"key": "platform", "value": registry.name},
            ],
        )
        if example:
            for table, rows in example_rows().items():
                connection.execute(insert(metadata.tables[table]), rows)
                counts[table] = len(rows)
    return counts
