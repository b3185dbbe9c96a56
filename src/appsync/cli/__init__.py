"""The command line: thin click commands that parse options, call one use-case and print."""

from __future__ import annotations
