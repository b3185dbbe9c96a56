"""Review stage, for GitHub: the body of the pull request comment that shows the latest plan
of one target. Pure: no I/O.

The body starts with a hidden marker naming the target, so the next run finds the comment
and updates it in place. It always reflects the latest run: the plan (changes or conflicts),
"no changes", or the error that stopped the plan. The plan's markdown comes from the plan
renderer, which escapes what it shows; this module only adds fixed text around it and never
exceeds GitHub's limit on a comment's length.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from appsync.plan.model import Plan
from appsync.plan.render import NOT_WRITTEN, render_markdown, summary_line

#: GitHub refuses a comment body longer than this many characters.
BODY_LIMIT = 65535
TRUNCATED = "Truncated to fit GitHub's limit on a comment's length"
PLAN_NOTE = "the JSON plan holds everything."
LOG_NOTE = "the job's log holds all of it."

#: Room kept for closing what a cut leaves open (the renderer nests <details> one deep).
_CLOSING_ROOM = 100
_SIMPLE_KEY = re.compile(r"[A-Za-z0-9._:/@+-]{1,200}")


@dataclass(frozen=True)
class RunInfo:
    """Where the comment comes from: links and the commit it was made for (all optional)."""

    artifact_url: str = ""
    run_url: str = ""
    head_sha: str = ""
    version: str = ""


def marker(key: str) -> str:
    """The hidden first line that identifies this target's comment. A key that is not a plain
    name (a database URL, say) is hashed, so nothing of it shows in the page's source."""
    if "://" in key or not _SIMPLE_KEY.fullmatch(key):
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<!-- appsync-plan:{key} -->"


def plan_body(key: str, target: str, plan: Plan, run: RunInfo) -> str:
    """The comment for a plan that was made: its changes and conflicts, or no changes."""
    if plan.has_changes:
        head = marker(key) + "\n"
        if plan.conflicts:
            head += (
                f"> **{len(plan.conflicts)} conflict(s)**: resolve them before this can be "
                "applied.\n\n"
            )
        status = "Conflicts" if plan.conflicts else "Changes to apply"
        return fit(head, render_markdown(plan), _footer(status, run), PLAN_NOTE)
    head = f"{marker(key)}\n## appsync plan for {_name(target)}: no changes\n\n"
    text = summary_line(plan) + "\n"
    if plan.warnings or any(c.action in NOT_WRITTEN for c in plan.changes):
        text += "\n" + render_markdown(plan)
    return fit(head, text, _footer("No changes", run), PLAN_NOTE)


def error_body(
    key: str, target: str, command: str, exit_code: int, output: str, run: RunInfo
) -> str:
    """The comment for a run that failed before it had a plan: its error output, verbatim
    in a code block (so nothing in it is read as markdown)."""
    text = output.strip("\n") or "(no error output)"
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    head = (
        f"{marker(key)}\n## appsync {command} for {_name(target)}: error (exit {exit_code})\n\n"
        "There is no plan for this revision; an earlier plan shown here is out of date.\n\n"
        f"{fence}text\n"
    )
    return fit(head, text, f"\n{fence}\n" + _footer("Error", run), LOG_NOTE, markdown=False)


def _name(target: str) -> str:
    """The target as inline code (it comes from the workflow, not from the tree)."""
    clean = re.sub(r"[`\r\n]", "", target)[:100] or "?"
    return f"`{clean}`"


def _footer(status: str, run: RunInfo) -> str:
    parts = [status]
    if run.artifact_url:
        parts.append(f"[JSON plan]({run.artifact_url})")
    if run.run_url:
        parts.append(f"[workflow run]({run.run_url})")
    if run.head_sha:
        parts.append(f"for commit {run.head_sha[:12]}")
    if run.version:
        parts.append(f"appsync {run.version}")
    return "\n---\n<sub>" + " · ".join(parts) + "</sub>\n"


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def fit(head: str, text: str, tail: str, note: str, *, markdown: bool = True) -> str:
    """``head + text + tail`` within :data:`BODY_LIMIT`: when it is longer, ``text`` is cut at a
    line end and ends with ``note``; cut ``markdown`` gets the code block and ``<details>``
    it leaves open closed."""
    body = head + text + tail
    if len(body) <= BODY_LIMIT:
        return body
    note = f"\n**{TRUNCATED}**: {note}\n" if markdown else f"… {TRUNCATED}: {note}\n"
    room = max(BODY_LIMIT - len(head) - len(tail) - len(note) - _CLOSING_ROOM, 0)
    cut = text[:room]
    if "\n" in cut:
        cut = cut[: cut.rfind("\n") + 1]
    if markdown:
        if sum(1 for line in cut.splitlines() if line.lstrip().startswith("```")) % 2:
            cut += "```\n"
        cut += "</details>\n" * max(cut.count("<details>") - cut.count("</details>"), 0)
    return head + cut + note + tail
