"""Ratios and the printed table, from the JSON document the harness writes."""

from __future__ import annotations

from typing import Any

#: What each appsync step is measured against: the sum of these floor figures.
FLOOR_OF: dict[str, tuple[str, ...]] = {
    "export_commit": ("select_source", "git_commit"),
    "noop_export": ("select_source", "hash_files"),
    "export_changed": ("select_source", "hash_files"),
    "full_apply": ("hash_files", "write_all"),
    "noop_plan": ("select_target", "hash_files"),
    "plan_changed": ("select_target", "hash_files"),
    "apply_changed": ("select_target", "hash_files", "write_changed"),
    "pack": ("zip_pack",),
    "unpack": ("zip_unpack",),
}
STARTUP_FLOOR = "python"

#: Table rows: appsync step, label, the Terraform step beside it.
ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("export_commit", "export + commit (empty repo)", None),
    ("noop_export", "no-op export", None),
    ("export_changed", "export, {p} changed", None),
    ("full_apply", "first apply (empty instance)", "apply_empty"),
    ("noop_plan", "no-op plan", "noop_plan"),
    ("noop_plan", "  vs terraform -refresh=false", "noop_plan_no_refresh"),
    ("plan_changed", "plan, {p} changed", "plan_changed"),
    ("apply_changed", "apply, {p} changed", "apply_changed"),
    ("pack", "pack one app", None),
    ("unpack", "unpack one app", None),
)
FLOOR_LABELS = {
    "select_source": "SELECT * per table (source)",
    "select_target": "SELECT * per table (target)",
    "git_commit": "git add -A && git commit",
    "hash_files": "sha256 of every file",
    "write_all": "INSERT every object row",
    "write_changed": "UPDATE the changed rows",
    "zip_pack": "python -m zipfile -c (app)",
    "zip_unpack": "python -m zipfile -e (app)",
}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


def ratios(run: dict[str, Any], terraform: dict[str, Any] | None) -> dict[str, Any]:
    """appsync/floor per step, and terraform/appsync per Terraform step."""
    floor = {
        step: _ratio(
            run["appsync"][step]["seconds"],
            sum(run["floor"][part]["seconds"] for part in parts),
        )
        for step, parts in FLOOR_OF.items()
    }
    result: dict[str, Any] = {"appsync/floor": floor}
    if terraform and "steps" in terraform:
        from terraform import STEPS

        result["terraform/appsync"] = {
            step: _ratio(terraform["steps"][step]["seconds"], run["appsync"][ours]["seconds"])
            for step, ours in STEPS.items()
            if step in terraform["steps"]
        }
    return result


def _num(value: float | None, width: int, digits: int = 2) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else " " * (width - 1) + "—"


def table(document: dict[str, Any]) -> str:
    lines = []
    startup = document["startup"]
    floor = startup[STARTUP_FLOOR]["seconds"]
    lines.append(f"start-up (floor: python -c pass, {floor:.3f} s)")
    for key, label in (("version", "appsync --version"), ("plan_help", "appsync plan --help")):
        figure = startup[key]
        lines.append(
            f"  {label:<30} {figure['seconds']:8.3f} s {figure['peak_rss_mib']:7.1f} MiB"
            f"  ×floor {_num(_ratio(figure['seconds'], floor), 6, 1)}"
        )
    terraform = {t["objects"]: t for t in document["terraform"]}
    percent = f"{document['settings']['mutate_percent']:g}%"
    for run in document["runs"]:
        tf = terraform.get(run["objects"], {})
        lines.append("")
        lines.append(
            f"{run['objects']:,} objects on {run['db']} ({run['counts']['app']} apps, "
            f"{run['changed']} changed; median of {document['settings']['repeat']})"
        )
        lines.append(
            f"  {'work':<30} {'appsync s':>9} {'MiB':>7} {'floor s':>8} {'×floor':>7}"
            f" {'terraform s':>12} {'tf/appsync':>10}"
        )
        for step, label, tf_step in ROWS:
            ours = run["appsync"][step]
            floor_s = sum(run["floor"][p]["seconds"] for p in FLOOR_OF[step])
            tf_figure = tf.get("steps", {}).get(tf_step) if tf_step else None
            tf_s = tf_figure["seconds"] if tf_figure else None
            lines.append(
                f"  {label.format(p=percent):<30} {ours['seconds']:9.3f}"
                f" {ours['peak_rss_mib']:7.1f} {floor_s:8.3f}"
                f" {_num(_ratio(ours['seconds'], floor_s), 7, 1)}"
                f" {_num(tf_s, 12)} {_num(_ratio(tf_s, ours['seconds']) if tf_s else None, 10, 1)}"
            )
        lines.append("  floor:")
        for key, label in FLOOR_LABELS.items():
            figure = run["floor"][key]
            lines.append(f"    {label:<28} {figure['seconds']:9.3f} {figure['peak_rss_mib']:7.1f}")
        if "skipped" in tf:
            lines.append(f"  terraform: {tf['skipped']}")
        for step, why in tf.get("skipped_steps", {}).items():
            lines.append(f"  terraform {step}: {why}")
    return "\n".join(lines)
