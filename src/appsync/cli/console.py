"""The terminal side of apply: showing plans, asking about conflicts, reporting progress."""

from __future__ import annotations

import difflib
import os
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from appsync.plan.model import Change, Plan
    from appsync.usecases.apply import Resolution


def use_color(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Console:
    """An :class:`~appsync.usecases.apply.Interaction` on stdin/stdout/stderr."""

    def __init__(self, *, show: bool = True) -> None:
        self._show = show

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty()

    @property
    def color(self) -> bool:
        return use_color(sys.stdout)

    def show_plan(self, plan: Plan) -> None:
        from appsync.plan.render import render_text

        if self._show:
            click.echo(render_text(plan, color=self.color), nl=False)

    def resolve(self, change: Change) -> Resolution:
        click.echo(f"\nConflict: {change.label()} ({change.path or change.id})")
        click.echo(f"  {change.reason}")
        for diff in change.fields:
            if (
                isinstance(diff.old, str)
                and isinstance(diff.new, str)
                and "\n" in diff.old + diff.new
            ):
                click.echo(f"  {diff.path}: (- target, + repo)")
                lines = difflib.unified_diff(
                    diff.old.splitlines(), diff.new.splitlines(), lineterm="", n=2
                )
                for line in list(lines)[2:]:
                    click.echo(f"    {line}")
            else:
                click.echo(f"  {diff.path}: {diff.old!r} (target) -> {diff.new!r} (repo)")
        answer = click.prompt(
            "  Keep [r]epo, keep [l]ive, [s]kip, or [a]bort?",
            type=click.Choice(["r", "l", "s", "a"]),
            show_choices=False,
        )
        return {"r": "repo", "l": "live", "s": "skip", "a": "abort"}[answer]  # type: ignore[return-value]

    def confirm(self, question: str) -> bool:
        return click.confirm(question, default=False)

    def progress(self, message: str) -> None:
        click.echo(f"  {message}", err=True)
