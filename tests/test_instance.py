"""The reference instance on real SQLite and PostgreSQL: schema, example, bulk reads."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, inspect, text

from appsync.errors import InstanceError
from appsync.instance.admin import init_instance
from appsync.instance.connect import open_instance
from appsync.instance.example import EXAMPLE_SECRETS
from appsync.instance.reader import read_objects
from appsync.instance.schema import OWN_TABLES
from appsync.kinds import Registry
from tests.helpers import table_digest


def test_init_creates_contract_tables(db_url: str, reg: Registry) -> None:
    init_instance(db_url, reg, example=False)
    engine = create_engine(db_url)
    try:
        names = set(inspect(engine).get_table_names())
        columns = {c["name"] for c in inspect(engine).get_columns("queries")}
    finally:
        engine.dispose()
    expected = {
        "apps",
        "roles",
        "users",
        "pages",
        "data_tables",
        "queries",
        "workflows",
        "functions",
        "files",
        "reports",
        "connectors",
        *OWN_TABLES,
    }
    assert expected <= names
    assert {"id", "app_id", "name", "sql", "parameters", "allowed_roles"} <= columns


def test_example_is_deterministic_and_complete(db_url: str, reg: Registry, tmp_path) -> None:
    counts = init_instance(db_url, reg, example=True)
    assert counts["roles"] >= 3 and counts["users"] >= 4 and counts["pages"] >= 5
    assert counts["queries"] >= 4 and counts["files"] >= 2 and counts["reports"] >= 2
    other = f"sqlite:///{tmp_path / 'again.db'}"
    init_instance(other, reg, example=True)
    with open_instance(db_url) as a, open_instance(other) as b:
        objs_a, objs_b = read_objects(a, reg), read_objects(b, reg)
    assert [(o.key, o.rev) for o in objs_a] == [(o.key, o.rev) for o in objs_b]
    assert any("\n" in o.content["sql"] for o in objs_a if o.kind == "query")
    assert any(o.content["content"].startswith(b"\x89PNG") for o in objs_a if o.kind == "file")


def test_reader_never_selects_secrets(db_url: str, reg: Registry) -> None:
    init_instance(db_url, reg, example=True)
    with open_instance(db_url) as instance:
        statements: list[str] = []
        event.listen(
            instance.engine,
            "before_cursor_execute",
            lambda *args: statements.append(args[2]),
        )
        objs = read_objects(instance, reg)
    blob = repr([o.content for o in objs])
    assert not any(secret in blob for secret in EXAMPLE_SECRETS)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    tables = {spec.storage.table for spec in reg}
    kind_selects = [s for s in selects if any(f"\nFROM {t} " in s for t in tables)]
    assert len(kind_selects) == len(reg)  # one query per table, never one per object
    assert not any("password_hash" in s or "credentials" in s for s in selects)


def test_init_refuses_a_non_empty_instance(db_url: str, reg: Registry) -> None:
    init_instance(db_url, reg, example=True)
    before = table_digest(db_url)
    with pytest.raises(InstanceError, match="is not empty"):
        init_instance(db_url, reg, example=True)
    assert table_digest(db_url) == before


def test_unreachable_and_missing_databases(tmp_path, reg: Registry) -> None:
    with pytest.raises(InstanceError, match="no such database file"):
        open_instance(f"sqlite:///{tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(InstanceError, match=r"127\.0\.0\.1:1"):
        open_instance("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(InstanceError, match="not a database URL"):
        open_instance("::nonsense://")
    with pytest.raises(InstanceError, match="unsupported database"):
        open_instance("mysql://x@localhost/db")


def test_reader_refuses_a_database_without_the_schema(db_url: str, reg: Registry) -> None:
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    with open_instance(db_url) as instance, pytest.raises(InstanceError, match="not an appsync"):
        read_objects(instance, reg)


_COLUMN_VALUES = [
    None,
    "",
    "x",
    "0",
    "false",
    "[1]",
    0,
    1,
    2.5,
    True,
    b"\x00",
    bytearray(b"a"),
    [1],
    {"a": 1},
]


@pytest.mark.parametrize(
    "field_type", ["uuid", "string", "text", "json", "bytes", "bool", "int", "float"]
)
@pytest.mark.parametrize("codec", ["native", "uuid", "json_text", "csv"])
def test_a_field_read_without_decoding_would_decode_to_itself(field_type: str, codec: str) -> None:
    """The store skips decode() where decodes() says it changes nothing: for every value a
    driver may hand over, decode must then give that very value back."""
    from appsync.instance.mapping import decode, decodes
    from appsync.kinds.spec import FieldSpec

    field = FieldSpec(name="f", type=field_type)  # type: ignore[arg-type]
    if decodes(field, codec):  # type: ignore[arg-type]
        return
    for value in _COLUMN_VALUES:
        assert decode(field, codec, value) is value, (field_type, codec, value)  # type: ignore[arg-type]
