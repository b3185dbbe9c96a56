"""appsync.plan.render, pure: plans built by hand rendered as text, markdown and JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appsync.errors import UsageError
from appsync.plan.model import Change, FieldDiff, Plan, Risk, Source, TargetInfo, empty_summary
from appsync.plan.render import (
    render,
    render_json,
    render_markdown,
    render_text,
    summary_line,
)

ANSI = re.compile(r"\x1b\[")
MORE = re.compile(r"… and (\d+) more changes? not shown \(the JSON plan, uploaded with this run")
OLD_SQL = "select id,\n       name\nfrom customers\n-- active only\nwhere active\n"
NEW_SQL = "select id,\n       name\nfrom clients\nwhere active\n"


def change(action: str = "create", name: str = "Orders", **kw: Any) -> Change:
    values: dict[str, Any] = {
        "app": "Sales",
        "kind": "query",
        "id": f"id-{name}",
        "name": name,
        "path": f"apps/sales/queries/{name.lower()}.json",
        "action": action,
    }
    values.update(kw)
    return Change(**values)


def plan(
    *changes: Change, unchanged: int = 0, risk: Risk = "low", warnings: tuple[str, ...] = ()
) -> Plan:
    summary = empty_summary()
    for c in changes:
        summary[c.action] += 1
    summary["unchanged"] = unchanged
    return Plan(
        source=Source(commit="0123456789abcdef0123", ref="main", dirty=False),
        target=TargetInfo(name="prod", fingerprint="sha256:00"),
        summary=summary,
        risk=risk,
        changes=changes,
        warnings=warnings,
    )


def sql_update() -> Change:
    return change("update", fields=(FieldDiff(path="sql", old=OLD_SQL, new=NEW_SQL),))


# ------------------------------------------------------------------------------ text


@pytest.mark.parametrize(
    ("action", "symbol"),
    [
        ("create", "+"),
        ("update", "~"),
        ("delete", "-"),
        ("conflict", "!"),
        ("ahead", ">"),
        ("orphaned", "?"),
        ("unmanaged", "."),
    ],
)
def test_each_action_has_its_symbol_on_the_object_line(action: str, symbol: str) -> None:
    text = render_text(plan(change(action)))
    assert f'\n  {symbol} query "Orders" apps/sales/queries/orders.json' in text
    assert f"{symbol} {action}" in text.splitlines()[1]  # the legend names it


def test_header_names_target_and_source() -> None:
    first = render_text(plan(change())).splitlines()[0]
    assert first == 'appsync plan for target "prod" from main @ 01234567'
    dirty = plan(change()).model_copy(update={"source": Source(commit="abc", dirty=True)})
    assert render_text(dirty).splitlines()[0].endswith("from abc (dirty work tree)")


def test_field_change_shows_old_to_new_as_json() -> None:
    fields = (
        FieldDiff(path="props.label", old="Old", new="New"),
        FieldDiff(path="limit", old=10, new=None),
    )
    text = render_text(plan(change("update", fields=fields)))
    assert '      props.label: "Old" -> "New"\n' in text
    assert "      limit: 10 -> null\n" in text


def test_fields_are_not_listed_for_creates() -> None:
    fields = (FieldDiff(path="props.label", old="Old", new="New"),)
    assert "props.label" not in render_text(plan(change("create", fields=fields)))


def test_multiline_sql_renders_as_a_unified_diff() -> None:
    lines = render_text(plan(sql_update())).splitlines()
    start = lines.index("      sql:")
    diff = lines[start + 1 : start + 9]
    assert diff[0].startswith("        @@ ")
    assert "        -from customers" in diff
    assert "        +from clients" in diff
    # a removed SQL comment is a diff line, not mistaken for the "---" file header
    assert "        --- active only" in diff
    assert "         from customers" not in diff
    assert not any("\\n" in line for line in lines)


def test_rename_shows_previous_path_to_path() -> None:
    moved = change("update", previous_path="apps/sales/queries/old.json")
    text = render_text(plan(moved))
    assert (
        '  ~ query "Orders" apps/sales/queries/old.json -> apps/sales/queries/orders.json\n' in text
    )


def test_reasons_and_not_written_labels() -> None:
    text = render_text(
        plan(
            change("conflict", "A", reason="changed on both sides"),
            change("ahead", "B", reason="the target is newer"),
            change("orphaned", "C", reason="deleted in Git"),
            change("unmanaged", "D", reason="made on the target"),
        )
    )
    assert "/a.json (conflict: changed on both sides)\n" in text
    assert "/b.json (ahead, not written: the target is newer)\n" in text
    assert "/c.json (orphaned, not written: deleted in Git)\n" in text
    assert "/d.json (unmanaged, not written: made on the target)\n" in text


def test_instance_wide_group_comes_first_then_apps_by_name() -> None:
    text = render_text(
        plan(
            change(app="Zoo", name="Z"),
            change(app="alpha", name="A"),
            change(app=None, kind="role", name="admins"),
        )
    )
    heads = [line for line in text.splitlines() if line.endswith(":") and line[0] != " "]
    assert heads == ["instance-wide (admin):", 'app "alpha":', 'app "Zoo":']
    assert text.index('+ role "admins"') < text.index('+ query "A"') < text.index('+ query "Z"')


def test_changes_are_listed_by_path_within_an_app() -> None:
    text = render_text(plan(change("conflict", "B"), change("create", "A"), change("delete", "C")))
    assert text.index('+ query "A"') < text.index('! query "B"') < text.index('- query "C"')


def test_no_escape_codes_without_color() -> None:
    evil = change("conflict", "bad\x1b[2Jname", reason="x\x1b[31my", fields=sql_update().fields)
    p = plan(change("create"), change("delete", "Old"), evil, warnings=("w\x1b[0m",))
    assert not ANSI.search(render_text(p))
    assert "\x1b" not in render_text(p)
    colored = render_text(p, color=True)
    assert "\x1b[32m+\x1b[0m" in colored
    assert "\x1b[31m-\x1b[0m" in colored
    assert "\x1b[31m!\x1b[0m" in colored
    assert "\x1b[33m~" not in colored  # no update in this plan


def test_update_is_yellow_with_color() -> None:
    assert "\x1b[33m~\x1b[0m" in render_text(plan(change("update")), color=True)


def test_summary_line_counts_every_action() -> None:
    p = plan(
        change("create", "A"),
        change("create", "B"),
        change("update", "C"),
        change("conflict", "D"),
        change("ahead", "E"),
        change("unmanaged", "F"),
        change("unmanaged", "G"),
        unchanged=3,
        risk="critical",
    )
    expected = (
        "Plan: 2 to create, 1 to update, 0 to delete, 1 conflict. "
        "3 unchanged, 1 ahead, 0 orphaned, 2 unmanaged. Risk: critical."
    )
    assert summary_line(p) == expected
    assert render_text(p).rstrip("\n").splitlines()[-1] == expected


def test_conflicts_are_pluralized() -> None:
    p = plan(change("conflict", "A"), change("conflict", "B"))
    assert ", 2 conflicts. " in summary_line(p)


def test_empty_plan_says_no_changes() -> None:
    text = render_text(plan(unchanged=5))
    assert text.splitlines()[-1] == (
        "No changes. The target matches the repo. 5 unchanged. Risk: low."
    )
    assert "Symbols" not in text


def test_plan_with_only_unwritten_objects_has_nothing_to_apply() -> None:
    text = render_text(plan(change("ahead")))
    assert text.splitlines()[-1].startswith("No changes to apply. 0 unchanged, 1 ahead,")


def test_warnings_are_prefixed() -> None:
    text = render_text(plan(change(), warnings=("kind widget is unknown", "second")))
    assert "\nwarning: kind widget is unknown\nwarning: second\n" in text


def test_long_values_are_truncated() -> None:
    fields = (FieldDiff(path="note", old="a" * 5000, new="b"),)
    line = next(x for x in render_text(plan(change("update", fields=fields))).split("\n")
                if "note:" in x)  # fmt: skip
    assert len(line) < 260
    assert "…" in line and line.endswith(' -> "b"')


# -------------------------------------------------------------------------- markdown


def test_markdown_has_heading_table_and_sections() -> None:
    md = render_markdown(plan(change("create"), sql_update(), unchanged=2, risk="medium"))
    assert md.startswith("## appsync plan for prod: risk **medium**\n")
    assert "| create | update | delete | conflict | unchanged |" in md
    assert "| 1 | 1 | 0 | 0 | 2 | 0 | 0 | 0 |" in md
    assert md.count("<details>") == md.count("</details>") == 1
    assert "<summary><b>app Sales</b>: 1 to create, 1 to update</summary>" in md
    assert "```diff\n    @@ " in md
    assert "\n    -from customers\n    --- active only\n    +from clients\n" in md


def test_markdown_escapes_names() -> None:
    md = render_markdown(plan(change(name="a|b `c` <script>", app="x|y", path="apps/x/q.json")))
    assert "a|b" not in md and "<script>" not in md and "`c`" not in md
    assert "a&#124;b &#96;c&#96; &#60;script&#62;" in md
    assert "app x&#124;y" in md


def test_markdown_code_spans_survive_backticks_in_values() -> None:
    fields = (FieldDiff(path="label", old="x`y", new="z"),)
    md = render_markdown(plan(change("update", fields=fields)))
    assert '``"x`y"``' in md


def _big_plan(n: int, apps: int = 1) -> Plan:
    fields = (
        FieldDiff(path="props.description", old="o" * 3000, new="n" * 3000),
        FieldDiff(path="sql", old=OLD_SQL * 20, new=NEW_SQL * 20),
    )
    return plan(
        *(change("update", f"Q{i:05d}", app=f"App {i % apps}", fields=fields) for i in range(n))
    )


def test_markdown_of_20000_changes_fits_and_counts_what_it_hides() -> None:
    p = _big_plan(20000)
    md = render_markdown(p)
    assert len(md) < 60000
    assert "| create | update | delete | conflict |" in md
    assert "| 0 | 20000 | 0 | 0 |" in md
    hidden = sum(int(n) for n in MORE.findall(md))
    shown = md.count("\n- `~` update query")
    assert hidden > 0 and shown > 0
    assert shown + hidden == 20000
    assert "```diff" not in md  # field diffs go before object lines


def test_markdown_keeps_small_apps_whole_and_cuts_the_largest() -> None:
    p = plan(*_big_plan(20000).changes, change("delete", "Lonely", app="Tiny"))
    md = render_markdown(p)
    assert len(md) < 60000
    tiny = md[md.index("<b>app Tiny</b>") :]
    assert "**Lonely**" in tiny.split("</details>")[0]
    assert len(MORE.findall(md)) == 1


def test_markdown_drops_field_diffs_before_object_lines() -> None:
    p = _big_plan(60)
    full = render_markdown(p, limit=10**7)
    assert "```diff" in full and len(full) > 60000
    md = render_markdown(p)
    assert len(md) < 60000
    assert not MORE.search(md)
    assert all(f"**Q{i:05d}**" in md for i in range(60))


def test_markdown_with_thousands_of_apps_counts_hidden_apps() -> None:
    md = render_markdown(_big_plan(20000, apps=5000))
    assert len(md) < 60000
    found = re.search(r"… and (\d+) more apps with (\d+) changes not shown", md)
    assert found is not None
    sections = md.count("<details>")
    assert sections + int(found.group(1)) == 5000
    assert int(found.group(2)) == 4 * int(found.group(1))


def test_markdown_many_warnings_are_capped() -> None:
    md = render_markdown(plan(change(), warnings=tuple(f"w{i}" for i in range(100))))
    assert "- **warning:** w19\n" in md and "w20" not in md
    assert "… and 80 more warnings not shown" in md


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    apps=st.integers(1, 40),
    limit=st.integers(50, 20000),
)
def test_markdown_is_always_under_the_limit(n: int, apps: int, limit: int) -> None:
    p = _big_plan(n, apps)
    assert len(render_markdown(p, limit=limit)) < limit


# ------------------------------------------------------------------------------ json


def test_render_json_round_trips() -> None:
    p = plan(
        sql_update(),
        change("conflict", "B", reason="both", base_rev="r1", risk="critical"),
        change("create", app=None, kind="role", name="admins", desired={"x": [1, "é"]}),
        unchanged=4,
        risk="critical",
        warnings=("careful",),
    )
    text = render_json(p)
    document = json.loads(text)
    assert document.pop("digest").startswith("sha256:")
    assert Plan.model_validate(document) == p
    assert json.loads(text)["summary"]["conflict"] == 1


def test_render_dispatches_on_format() -> None:
    p = plan(change("update"))
    assert render(p, "text") == render_text(p)
    assert render(p, "text", color=True) == render_text(p, color=True)
    assert render(p, "markdown") == render_markdown(p)
    assert render(p, "json") == render_json(p)
    with pytest.raises(UsageError, match="unknown plan format 'yaml'"):
        render(p, "yaml")
