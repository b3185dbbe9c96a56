"""pack, unpack, verify and import: thin commands over the package use-cases."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
