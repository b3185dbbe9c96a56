"""Paths into content (appsync.paths): values_at reads a level at a time; it must give what
the rule as first written (recursive, below) gives, in the same order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from appsync.paths import map_at, values_at


def reference(value: Any, path: str) -> Iterator[Any]:
    """values_at as first written."""
    if not path:
        yield value
        return
    head, _, rest = path.partition(".")
    star = head.endswith("[*]")
    name = head[:-3] if star else head
    if not isinstance(value, dict) or name not in value:
        return
    inner = value[name]
    if star:
        if isinstance(inner, list):
            for item in inner:
                yield from reference(item, rest)
    else:
        yield from reference(inner, rest)


_names = st.sampled_from(["a", "b", "w", ""])
_content = st.recursive(
    st.none() | st.integers(0, 9) | st.sampled_from(["x", "y"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=20,
)
_paths = st.lists(st.tuples(_names, st.booleans()), min_size=0, max_size=4).map(
    lambda parts: ".".join(f"{n}[*]" if star else n for n, star in parts)
)


@settings(max_examples=1500, deadline=None)
@given(_content, _paths | _paths.map(lambda p: p + "."))
def test_values_at_keeps_the_rule(value: Any, path: str) -> None:
    assert values_at(value, path) == list(reference(value, path))


def test_values_at_reads_lists_and_nested_fields_in_order() -> None:
    page = {"widgets": [{"props": {"page_id": 1}}, {"props": {}}, {"props": {"page_id": 2}}]}
    assert values_at(page, "widgets[*].props.page_id") == [1, 2]
    assert values_at(page, "widgets") == [page["widgets"]]
    assert values_at(page, "widgets[*].missing") == []
    assert values_at({"widgets": "not a list"}, "widgets[*].props") == []
    assert values_at(page, "") == [page]


def test_map_at_rewrites_what_values_at_reads() -> None:
    page = {"widgets": [{"id": "a"}, {"id": "b"}], "title": "t"}
    changed = map_at(page, "widgets[*].id", str.upper)
    assert values_at(changed, "widgets[*].id") == ["A", "B"]
    assert page["widgets"][0]["id"] == "a"  # a copy
