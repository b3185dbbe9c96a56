"""appsync.canonical.jcs against the RFC 8785 test vectors in ../shared/testdata/jcs/, and
both canonical forms' fast paths against their reference implementations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from appsync.canonical import jcs
from appsync.canonical.jsonform import canonical_json
from tests.conftest import SHARED

VECTORS = SHARED / "testdata" / "jcs"


def _cases() -> list[str]:
    if not (VECTORS / "input").is_dir():
        return []
    return sorted(p.name for p in (VECTORS / "input").glob("*.json"))


def test_vectors_are_present_in_ci() -> None:
    if not VECTORS.is_dir():
        if os.environ.get("APPSYNC_REQUIRE_JCS_VECTORS"):
            pytest.fail(f"{VECTORS} is missing in CI: the JCS vectors must be tested")
        pytest.skip(f"{VECTORS} is absent (a user's clone without ../shared)")
    assert len(_cases()) >= 6


@pytest.mark.parametrize("name", _cases())
def test_jcs_vector(name: str) -> None:
    source = (VECTORS / "input" / name).read_text(encoding="utf-8")
    expected = (VECTORS / "output" / name).read_bytes()
    assert jcs(json.loads(source)) == expected


def test_jcs_sorts_keys_by_utf16_and_drops_whitespace() -> None:
    assert jcs({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()


def test_jcs_refuses_what_json_cannot_carry() -> None:
    from appsync.errors import TreeError

    with pytest.raises(TreeError):
        jcs(2**60)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"a": float("nan")},
        [1, float("inf")],
        {"x": {"y": [-float("inf")]}, "z": "no other null here"},
        {"a": None, "b": float("nan")},
        [None, [float("inf"), None]],
    ],
)
def test_jcs_refuses_nan_and_infinities_wherever_they_are(value: object) -> None:
    """orjson would write them as ``null``: that output must never be taken."""
    from appsync.errors import TreeError

    with pytest.raises(TreeError):
        jcs(value)


def test_path_is_beside_the_project() -> None:
    assert Path(__file__).resolve().parents[1].name != "shared"


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_fast_path_matches_the_reference_implementation(value: object) -> None:
    assert jcs(value) == rfc8785.dumps(value)


_tree_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_tree_values)
def test_tree_form_fast_path_matches_the_standard_library(value: object) -> None:
    """canonical_json takes orjson's path when it can; the bytes are the standard library's."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    assert canonical_json(value) == (text + "\n").encode("utf-8")


@pytest.mark.parametrize("value", [float("nan"), [float("inf")], {"a": -float("inf")}])
def test_tree_form_refuses_what_json_cannot_carry(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


_stored_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet="0123456789abc\u0660\u00e9", max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_stored_values)
def test_a_stored_column_reads_as_the_standard_library_reads_it(value: object) -> None:
    """load_stored takes orjson unless the text holds nineteen digits in a row (an integer
    past 64 bits, which orjson would make a float); either way the standard library's value,
    with its types: a long integer stays an integer."""
    from appsync.canonical.jsonform import load_stored

    text = json.dumps(value, ensure_ascii=False)
    got = load_stored(text)
    assert got == json.loads(text)
    assert json.dumps(got) == json.dumps(json.loads(text))
    assert load_stored(text.encode()) == got


@pytest.mark.parametrize("value", [5, 2.5, True, None, [1]])
def test_a_stored_column_that_is_not_text_is_a_type_error(value: object) -> None:
    """As for json.loads: SQLAlchemy passes a number SQLite keeps in a JSON column through
    when the reader raises TypeError."""
    from appsync.canonical.jsonform import load_stored

    with pytest.raises(TypeError):
        load_stored(value)  # type: ignore[arg-type]
