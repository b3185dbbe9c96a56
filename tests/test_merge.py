"""Three-way merge, field by field and item by item. Pure."""

from __future__ import annotations

from appsync.diff.merge import merge_contents
from appsync.kinds import Registry


def page(route: str, labels: dict[str, str], order: list[str] | None = None) -> dict:
    ids = order or list(labels)
    return {
        "id": "p",
        "name": "Home",
        "route": route,
        "widgets": [{"id": i, "pane": "main", "props": {"label": labels[i]}} for i in ids],
    }


def test_different_fields_combine(reg: Registry) -> None:
    base = page("/a", {"w1": "One", "w2": "Two"})
    live = page("/hotfix", {"w1": "One", "w2": "Two"})
    repo = page("/a", {"w1": "One!", "w2": "Two"})
    result = merge_contents(reg.get("page"), base, live, repo)
    assert result.clean
    assert result.content == page("/hotfix", {"w1": "One!", "w2": "Two"})
    assert ("route", "live") in result.sides
    assert ("widgets[pane=main,id=w1].props.label", "repo") in result.sides


def test_same_field_both_sides_is_a_conflict(reg: Registry) -> None:
    base = page("/a", {"w1": "One"})
    result = merge_contents(
        reg.get("page"), base, page("/b", {"w1": "One"}), page("/c", {"w1": "One"})
    )
    assert result.conflicts == ["route"]
    same = merge_contents(
        reg.get("page"), base, page("/b", {"w1": "One"}), page("/b", {"w1": "One"})
    )
    assert same.clean and ("route", "both") in same.sides


def test_list_items_match_by_id_not_position(reg: Registry) -> None:
    base = page("/a", {"w1": "One", "w2": "Two"})
    live = page("/a", {"w0": "Zero", "w1": "One", "w2": "Two"}, ["w0", "w1", "w2"])
    repo = page("/a", {"w1": "One", "w2": "Deux"})
    result = merge_contents(reg.get("page"), base, live, repo)
    assert result.clean, result.conflicts
    assert [w["id"] for w in result.content["widgets"]] == ["w0", "w1", "w2"]
    assert result.content["widgets"][2]["props"]["label"] == "Deux"


def test_delete_against_edit_conflicts(reg: Registry) -> None:
    base = page("/a", {"w1": "One", "w2": "Two"})
    live = page("/a", {"w1": "One"})
    repo = page("/a", {"w1": "One", "w2": "Zwei"})
    result = merge_contents(reg.get("page"), base, live, repo)
    assert result.conflicts == ["widgets[pane=main,id=w2]"]
    deleted = merge_contents(reg.get("page"), base, live, base)
    assert deleted.clean and [w["id"] for w in deleted.content["widgets"]] == ["w1"]
