"""One error root for the whole product, mapped to the exit codes of DESIGN section 8.

The CLI catches :class:`AppsyncError` once, prints its one-line message and exits with its
``exit_code``. Subclasses carry the data a caller may want (the holder of a lock, the
objects that went stale) besides the message.
"""

from __future__ import annotations


class AppsyncError(Exception):
    """Bad input, configuration or I/O: exit 1. ``problems`` lists every problem found
    (the CLI prints one line each); by default it is just the message."""

    exit_code = 1

    def __init__(self, message: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class UsageError(AppsyncError):
    """The command line itself is wrong."""


class ConfigError(AppsyncError):
    """appsync.yaml, a manifest or a target is wrong."""


class InstanceError(AppsyncError):
    """The live instance cannot be reached or is not what appsync expects."""


class RepoError(AppsyncError):
    """The Git repository cannot be read or written."""


class TreeError(AppsyncError):
    """The canonical tree holds something appsync cannot read."""


class ConflictError(AppsyncError):
    """Unresolved conflicts: exit 3."""

    exit_code = 3

    def __init__(self, message: str, conflicts: list[str] | None = None) -> None:
        super().__init__(message)
        self.conflicts = conflicts or []


class StaleError(AppsyncError):
    """The target changed since the plan was made: exit 4."""

    exit_code = 4

    def __init__(self, message: str, objects: list[str] | None = None) -> None:
        super().__init__(message)
        self.objects = objects or []


class LockHeldError(AppsyncError):
    """Another apply holds the target's lock: exit 4."""

    exit_code = 4

    def __init__(self, message: str, holder: str = "") -> None:
        super().__init__(message)
        self.holder = holder


class PackageError(AppsyncError):
    """A package (ZIP) is unsafe or invalid: every problem, one line each, exit 1."""


class GitHubError(AppsyncError):
    """The GitHub API refused a request or could not be reached: exit 1."""
