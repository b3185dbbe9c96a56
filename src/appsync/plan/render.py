"""Plan stage, last step: a frozen :class:`Plan` rendered for people (text), for a pull request
comment (markdown, bounded in size) and for machines (JSON). Pure: no I/O, no printing.

Inside each app, changes are listed by what needs attention first: conflicts, deletes,
updates, creates, then what apply leaves alone (ahead, orphaned, unmanaged).
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from appsync.errors import UsageError
from appsync.plan.model import ACTIONS, RISKS, WRITES, Change, FieldDiff, Plan, Source

FORMATS: tuple[str, ...] = ("text", "markdown", "json")
SYMBOLS: dict[str, str] = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "conflict": "!",
    "ahead": ">",
    "orphaned": "?",
    "unmanaged": ".",
}
#: Display order inside an app: what needs attention first, what apply leaves alone last.
ORDER: tuple[str, ...] = (
    "conflict",
    "delete",
    "update",
    "create",
    "ahead",
    "orphaned",
    "unmanaged",
)
NOT_WRITTEN: tuple[str, ...] = ("ahead", "orphaned", "unmanaged")
WITH_REASON: tuple[str, ...] = ("conflict", *NOT_WRITTEN)
WITH_FIELDS: tuple[str, ...] = ("update", "conflict", "ahead")
_SUMMARY_ORDER: tuple[str, ...] = ("create", "update", "delete", "conflict", *NOT_WRITTEN)
INSTANCE_WIDE = "instance-wide (admin)"
MAX_VALUE = 200
MARKDOWN_LIMIT = 60000
MD_MAX_FIELDS = 50
MD_MAX_DIFF_LINES = 60
MD_MAX_WARNINGS = 20

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SYMBOL_COLORS = {"+": "green", "~": "yellow", "-": "red", "!": "red", ">": "cyan"}
_MD_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>|`*_[]\\#~@"}


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in one of :data:`FORMATS`."""
    if fmt == "text":
        return render_text(plan, color=color)
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    raise UsageError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render_json(plan: Plan) -> str:
    return plan.to_json()


# ------------------------------------------------------------------------------ shared


def _safe(text: str) -> str:
    """Text with control characters (newlines, escape codes) shown escaped; tabs kept."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _clip(text: str, limit: int = MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _value(value: Any) -> str:
    """A field value as compact, clipped JSON on one line."""
    return _clip(_json(value))


def _quote(text: str) -> str:
    return _clip(_json(text))


def _diff_lines(field: FieldDiff) -> list[str]:
    """A unified diff of a multi-line string value (hunks only), or [] for other values."""
    if not any(isinstance(v, str) and "\n" in v for v in (field.old, field.new)):
        return []
    diff = list(difflib.unified_diff(_lines_of(field.old), _lines_of(field.new), lineterm="", n=3))
    return [_clip(_safe(line)) for line in diff[2:]]  # [2:] drops the ---/+++ file headers


def _lines_of(value: Any) -> list[str]:
    if value is None:
        return []
    return value.splitlines() if isinstance(value, str) else [_json(value)]


def _rank(change: Change) -> int:
    return ORDER.index(change.action) if change.action in ORDER else len(ORDER)


def _groups(plan: Plan) -> list[tuple[str | None, list[Change]]]:
    """Changes per app, instance-wide objects first, then apps by name; inside each, by
    path (where the object is in the tree)."""
    by_app: dict[str | None, list[Change]] = {}
    for change in plan.changes:
        if change.action != "unchanged":
            by_app.setdefault(change.app, []).append(change)
    apps = sorted(by_app, key=lambda a: (a is not None, (a or "").casefold(), a or ""))
    return [(app, sorted(by_app[app], key=_by_path)) for app in apps]


def _by_path(change: Change) -> tuple[str, str, str]:
    return (change.path or change.previous_path or "", change.kind, change.name or change.id)


def _counts(plan: Plan) -> dict[str, int]:
    seen = Counter(c.action for c in plan.changes)
    return {action: plan.summary.get(action, seen[action]) for action in ACTIONS}


def _conflicts(n: int) -> str:
    return f"{n} conflict" if n == 1 else f"{n} conflicts"


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, … Risk: high.`` or ``No changes. …`` for a plan without writes."""
    n = _counts(plan)
    rest = (
        f"{n['unchanged']} unchanged, {n['ahead']} ahead, {n['orphaned']} orphaned, "
        f"{n['unmanaged']} unmanaged."
    )
    cause = f" ({_safe(plan.risk_reason)})" if plan.risk_reason else ""
    risk = f"Risk: {plan.risk}{cause}."
    if plan.has_changes or any(n[a] for a in (*WRITES, "conflict")):
        return (
            f"Plan: {n['create']} to create, {n['update']} to update, {n['delete']} to delete, "
            f"{_conflicts(n['conflict'])}. {rest} {risk}"
        )
    if any(n[a] for a in NOT_WRITTEN):
        return f"No changes to apply. {rest} {risk}"
    return f"No changes. The target matches the repo. {n['unchanged']} unchanged. {risk}"


def _group_phrase(changes: Iterable[Change]) -> str:
    """``2 to create, 1 conflict, 1 ahead``: the non-zero counts of one group."""
    seen = Counter(c.action for c in changes)
    return ", ".join(
        _count_words(a, seen[a])
        for a in (*_SUMMARY_ORDER, *sorted(set(seen) - set(ORDER)))
        if seen[a]
    )


def _count_words(action: str, n: int) -> str:
    if action in WRITES:
        return f"{n} to {action}"
    return _conflicts(n) if action == "conflict" else f"{n} {action}"


def _source_text(source: Source) -> str:
    commit = source.commit[:8] if source.commit else ""
    ref = _safe(source.ref) if source.ref else ""
    base = f"{ref} @ {commit}" if ref and commit else ref or commit or _safe(source.origin)
    if not base:
        return "the dirty work tree" if source.dirty else "the work tree"
    return base + (" (dirty work tree)" if source.dirty else "")


def _where(change: Change, fmt: Callable[[str], str], arrow: str) -> str:
    """The object's path, or ``previous -> path`` for a move."""
    if change.path is None:
        return ""
    path = fmt(_clip(change.path, 300))
    if change.previous_path and change.previous_path != change.path:
        return f"{fmt(_clip(change.previous_path, 300))} {arrow} {path}"
    return path


def _note_label(change: Change) -> str | None:
    """``conflict`` / ``ahead, not written``: what a line says about an unusual action."""
    if change.action == "conflict":
        return "conflict"
    if change.action in NOT_WRITTEN:
        return f"{change.action}, not written"
    return None if change.action in SYMBOLS else change.action


# -------------------------------------------------------------------------------- text


def _paint(text: str, name: str | None, color: bool) -> str:
    if not color or name is None:
        return text
    if name == "bold":
        return click.style(text, bold=True)
    return click.style(text, fg=name)


def render_text(plan: Plan, *, color: bool = False) -> str:
    """Terraform-like text: header, legend, changes per app with field diffs, summary."""
    header = f"appsync plan for target {_quote(plan.target.name)} from {_source_text(plan.source)}"
    out = [_paint(header, "bold", color)]
    groups = _groups(plan)
    present = {c.action for _, changes in groups for c in changes}
    legend = [f"{s} {a}" for a, s in SYMBOLS.items() if a in present]
    if legend:
        out.append("Symbols: " + ", ".join(legend) + ".")
    for app, changes in groups:
        title = INSTANCE_WIDE if app is None else f"app {_quote(app)}"
        out += ["", _paint(f"{title}:", "bold", color)]
        for change in changes:
            out.extend(_text_change(change, color))
    if plan.warnings:
        out.append("")
        out += [f"{_paint('warning:', 'yellow', color)} {_safe(w)}" for w in plan.warnings]
    out += ["", _paint(summary_line(plan), "bold", color)]
    return "\n".join(out) + "\n"


def _text_change(change: Change, color: bool) -> list[str]:
    symbol = SYMBOLS.get(change.action, "*")
    line = f"  {_paint(symbol, _SYMBOL_COLORS.get(symbol), color)} {_safe(change.kind)} "
    line += _quote(change.name or change.id)
    where = _where(change, _safe, "->")
    if where:
        line += f" {where}"
    label = _note_label(change)
    if label is not None:
        reason = _clip(_safe(change.reason))
        line += f" ({label}: {reason})" if reason else f" ({label})"
    if change.action in (*WRITES, "conflict") and change.risk_reason:
        line += f" [{change.risk}: {_clip(_safe(change.risk_reason))}]"
    lines = [line]
    if change.action in WITH_FIELDS:
        for field in change.fields:
            lines.extend(_text_field(field, color))
    return lines


def _text_field(field: FieldDiff, color: bool) -> list[str]:
    pad = " " * 6
    side = f" (from {_safe(field.side)})" if field.side else ""
    summary = field.summary(_value)
    if summary is not None:
        return [f"{pad}{_safe(summary)}{side}"]
    path = _safe(field.path)
    diff = _diff_lines(field)
    if not diff:
        return [f"{pad}{path}: {_value(field.old)} -> {_value(field.new)}{side}"]
    return [f"{pad}{path}:{side}", *(f"{pad}  {_paint_diff(line, color)}" for line in diff)]


def _paint_diff(line: str, color: bool) -> str:
    name = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
    return _paint(line, name, color)


# ---------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    """Text safe in markdown and HTML alike: significant characters as entities."""
    return _safe(text).translate(_MD_ESCAPES)


def _code(text: str) -> str:
    """An inline code span that survives backticks in its content."""
    text = _safe(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _more(n: int, what: str = "change") -> str:
    return (
        f"- … and {n} more {what}{'' if n == 1 else 's'} not shown (the JSON plan, uploaded "
        "with this run, has every change)\n"
    )


def _tail(apps: int, changes: int) -> str:
    return (
        f"… and {apps} more app{'' if apps == 1 else 's'} with {changes} "
        f"change{'' if changes == 1 else 's'} not shown (the JSON plan has every change)\n"
    )


#: What keeps its field diffs first when a plan does not fit: conflicts, deletes, then
#: changes by risk.
def _priority(change: Change) -> int:
    if change.action == "conflict":
        return 0
    if change.action == "delete":
        return 1
    return 2 + (len(RISKS) - 1 - RISKS.index(change.risk)) if change.risk in RISKS else 9


def _important(change: Change) -> bool:
    return change.action in ("conflict", "delete") or change.risk in ("high", "critical")


class _Item:
    """One change in a section: hidden, its object line, or its line with field diffs
    (rendered on demand: diffing is the costly part, and most of a huge plan's never fit)."""

    def __init__(self, change: Change) -> None:
        self.change = change
        self.brief = _md_item(change, full=False)
        self._full: str | None = None
        self.shown: str | None = None

    @property
    def full(self) -> str:
        if self._full is None:
            self._full = _md_item(self.change, full=True)
        return self._full


class _Section:
    """One app's collapsible section; its size as it would render now."""

    closing = "\n</details>\n\n"

    def __init__(self, app: str | None, changes: Sequence[Change]) -> None:
        title = INSTANCE_WIDE if app is None else f"app {_md(_clip(app))}"
        self.opening = f"<details><summary><b>{title}</b>: {_group_phrase(changes)}</summary>\n\n"
        self.items = [_Item(c) for c in changes]
        self.shown_size = 0
        self.shown_count = 0

    @property
    def visible(self) -> bool:
        return self.shown_count > 0

    @property
    def size(self) -> int:
        hidden = len(self.items) - self.shown_count
        more = len(_more(hidden)) if hidden else 0
        return len(self.opening) + self.shown_size + more + len(self.closing)

    def show(self, item: _Item, text: str | None) -> None:
        old = item.shown
        if old is not None:
            self.shown_size -= len(old)
            self.shown_count -= 1
        item.shown = text
        if text is not None:
            self.shown_size += len(text)
            self.shown_count += 1

    def render(self) -> str:
        shown = [i.shown for i in self.items if i.shown is not None]
        hidden = len(self.items) - len(shown)
        return self.opening + "".join(shown) + (_more(hidden) if hidden else "") + self.closing


class _Layout:
    """Which changes a comment shows, and how, within a budget of characters. The sections
    not shown are counted as they change, so each attempt costs the same however many
    apps a plan has."""

    def __init__(self, sections: list[_Section], budget: int) -> None:
        self.sections = sections
        self.budget = budget
        hidden = [s for s in sections if not s.visible]
        self.hidden_sections = len(hidden)
        self.hidden_changes = sum(len(s.items) for s in hidden)
        self.total = sum(s.size for s in sections if s.visible) + self._tail_size()

    def _tail_size(self) -> int:
        if not self.hidden_sections:
            return 0
        return len(_tail(self.hidden_sections, self.hidden_changes))

    def _show(self, section: _Section, item: _Item, text: str | None) -> None:
        was = section.visible
        section.show(item, text)
        if was != section.visible:
            step = -1 if section.visible else 1
            self.hidden_sections += step
            self.hidden_changes += step * len(section.items)

    def attempt(self, section: _Section, item: _Item, text: str | None) -> bool:
        """Show ``item`` as ``text`` if the comment still fits; say whether it does."""
        before_item, before_total = item.shown, self.total
        old = (section.size if section.visible else 0) + self._tail_size()
        self._show(section, item, text)
        new = (section.size if section.visible else 0) + self._tail_size()
        self.total += new - old
        if self.total <= self.budget:
            return True
        self._show(section, item, before_item)
        self.total = before_total
        return False

    def render(self) -> str:
        hidden = [s for s in self.sections if not s.visible]
        text = "".join(s.render() for s in self.sections if s.visible)
        if hidden:
            text += _tail(len(hidden), sum(len(s.items) for s in hidden))
        return text


def _lay_out(sections: list[_Section], budget: int) -> str:
    """Conflicts, deletes and risky changes with their field diffs first; then every other
    change's object line, shared out between the apps; then field diffs of the rest while
    they fit. Within an app, changes are in path order; what is left out is counted."""
    layout = _Layout(sections, budget)
    owned = [(s, i) for s in sections for i in s.items]
    ranked = sorted(owned, key=lambda si: (_priority(si[1].change), si[1].change.path or ""))
    for section, item in ranked:
        if _important(item.change) and not layout.attempt(section, item, item.full):
            layout.attempt(section, item, item.brief)
    queues = [deque(i for i in s.items if i.shown is None) for s in sections]
    progress = True
    while progress:
        progress = False
        for section, queue in zip(sections, queues, strict=True):
            while queue:
                item = queue.popleft()
                if layout.attempt(section, item, item.brief):
                    progress = True
                    break
                queue.clear()  # this app's next line does not fit: the others may still
    for section, item in ranked:
        if item.shown is item.brief and item.change.action in WITH_FIELDS and item.change.fields:
            # The diffs (the costly part) only of changes whose fields could still fit: each
            # field shown adds at least a line break and "  - " (five characters).
            room = layout.budget - layout.total
            if room < FIELD_LINE_FLOOR:
                break
            if room >= FIELD_LINE_FLOOR * min(len(item.change.fields), MD_MAX_FIELDS):
                layout.attempt(section, item, item.full)
    return layout.render()


#: The fewest characters a field's part of a change's full entry takes.
FIELD_LINE_FLOOR = 5


def render_markdown(plan: Plan, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull request comment shorter than ``limit`` characters, whatever the plan's size."""
    head = _md_head(plan, warnings=True)
    sections = [_Section(app, changes) for app, changes in _groups(plan)]
    budget = limit - 1 - len(head)
    if budget >= 0:
        text = head + _lay_out(sections, budget)
        if len(text) < limit:
            return text
    text = _md_head(plan, warnings=False) + "The details do not fit here: see the JSON plan.\n"
    return text if len(text) < limit else text[: max(limit - 1, 0)]


def _md_head(plan: Plan, *, warnings: bool) -> str:
    n = _counts(plan)
    order = (*WRITES, "conflict", "unchanged", *NOT_WRITTEN)  # the summary line's order
    lines = [
        f"## appsync plan for {_md(_clip(plan.target.name))}: risk **{plan.risk}**"
        + (f" ({_md(_clip(plan.risk_reason))})" if plan.risk_reason else ""),
        "",
        f"Source: {_md(_source_text(plan.source))}",
        "",
        "| " + " | ".join(order) + " |",
        "|" + " ---: |" * len(order),
        "| " + " | ".join(str(n[a]) for a in order) + " |",
        "",
        summary_line(plan),
        "",
    ]
    if warnings and plan.warnings:
        lines += [f"- **warning:** {_md(_clip(w, 300))}" for w in plan.warnings[:MD_MAX_WARNINGS]]
        extra = len(plan.warnings) - MD_MAX_WARNINGS
        if extra > 0:
            lines.append(_more(extra, "warning").rstrip("\n"))
        lines.append("")
    return "\n".join(lines) + "\n"


def _md_item(change: Change, *, full: bool) -> str:
    symbol = SYMBOLS.get(change.action, "*")
    written = " (not written)" if change.action in NOT_WRITTEN else ""
    line = f"- {_code(symbol)} {_md(change.action)}{written} {_md(change.kind)} "
    line += f"**{_md(_clip(change.name or change.id))}**"
    where = _where(change, _code, "→")
    if where:
        line += f" {where}"
    if _note_label(change) is not None and change.reason:
        line += f": {_md(_clip(change.reason))}"
    if change.action in (*WRITES, "conflict") and change.risk_reason:
        line += f" — *{change.risk}: {_md(_clip(change.risk_reason))}*"
    lines = [line]
    if full and change.action in WITH_FIELDS:
        for field in change.fields[:MD_MAX_FIELDS]:
            lines.extend(_md_field(field))
        if len(change.fields) > MD_MAX_FIELDS:
            lines.append("  " + _more(len(change.fields) - MD_MAX_FIELDS, "field change"))
    return "\n".join(x.rstrip("\n") for x in lines) + "\n"


def _md_field(field: FieldDiff) -> list[str]:
    label = _code(_clip(field.path)) + (f" (from {_md(field.side)})" if field.side else "")
    summary = field.summary(_value)
    if summary is not None:
        return [
            f"  - {_md(_clip(summary, 300))}" + (f" (from {_md(field.side)})" if field.side else "")
        ]
    diff = _diff_lines(field)
    if not diff:
        return [f"  - {label}: {_code(_value(field.old))} → {_code(_value(field.new))}"]
    shown = diff[:MD_MAX_DIFF_LINES]
    if len(diff) > MD_MAX_DIFF_LINES:
        shown.append(f"… {len(diff) - MD_MAX_DIFF_LINES} more diff lines")
    longest = max((len(run) for line in shown for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"  - {label}:", f"    {fence}diff", *(f"    {x}" for x in shown), f"    {fence}"]
