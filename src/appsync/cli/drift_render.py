"""Rendering a drift report as text, markdown or JSON."""

from __future__ import annotations

import json

from appsync.usecases.drift import DriftReport

_SYMBOL = {"changed": "~", "deleted": "-", "created": "+", "kept": ">"}
_WHAT = {
    "changed": "changed on the target",
    "deleted": "deleted on the target",
    "created": "created on the target",
    "kept": "kept on the target, not in Git yet: capture it with export",
}


def _value(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def render_drift(report: DriftReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    s = report.summary
    summary = (
        f"Drift on {report.target}: {s['changed']} changed, {s['deleted']} deleted, "
        f"{s['created']} created outside Git; {s.get('kept', 0)} kept that Git lacks."
    )
    if not report.items:
        return f"No drift: {report.target} holds what appsync last applied.\n"
    lines: list[str] = []
    if fmt == "markdown":
        lines += [f"## appsync drift on {report.target}", "", summary, ""]
        for item in report.items:
            where = f" `{item.path}`" if item.path else ""
            lines.append(
                f"- `{_SYMBOL[item.drift]}` {item.drift} {item.kind} "
                f"**{item.name or item.id}**{where}"
            )
            lines += [f"  - `{f.path}`: `{_value(f.old)}` → `{_value(f.new)}`" for f in item.fields]
        return "\n".join(lines) + "\n"
    for item in report.items:
        app = f"[{item.app}] " if item.app else ""
        where = f" {item.path}" if item.path else ""
        lines.append(
            f'{_SYMBOL[item.drift]} {app}{item.kind} "{item.name or item.id}"{where} '
            f"({_WHAT[item.drift]})"
        )
        lines += [f"    {f.path}: {_value(f.old)} -> {_value(f.new)}" for f in item.fields]
    lines += ["", summary]
    return "\n".join(lines) + "\n"
