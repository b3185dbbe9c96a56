"""``python -m appsync``: the same as the ``appsync`` command."""

from __future__ import annotations

from appsync.cli.main import run

run()
