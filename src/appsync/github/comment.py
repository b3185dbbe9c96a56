"""Review stage, for GitHub: keep one comment per target on a pull request, showing the latest
run. Finds our comment by its hidden marker (reading every page of comments), updates it in
place, or creates it; and reads what a workflow run knows (repository, pull request, links)
from the environment GitHub Actions sets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appsync.errors import UsageError
from appsync.github.api import DEFAULT_API_URL, GitHub
from appsync.github.body import RunInfo

_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Posted:
    """What :func:`upsert` did: ``created`` or ``updated``, and the comment GitHub returned."""

    action: str
    comment: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.comment.get("html_url") or f"comment {self.comment.get('id')}")


@dataclass(frozen=True)
class PullRequest:
    """Which pull request to comment on, through which API, and what the run links to."""

    api_url: str
    token: str
    repository: str
    number: int
    run: RunInfo


def find(comments: Iterable[dict[str, Any]], marker: str, author: str | None) -> int | None:
    """The id of the first comment whose body starts with ``marker`` (by ``author``, if
    named), or None."""
    for comment in comments:
        body = comment.get("body")
        if not isinstance(body, str) or not body.startswith(marker):
            continue
        if author and (comment.get("user") or {}).get("login") != author:
            continue
        comment_id = comment.get("id")
        if isinstance(comment_id, int):
            return comment_id
    return None


def upsert(client: GitHub, pr: PullRequest, marker: str, body: str, author: str | None) -> Posted:
    """Update our comment in place if there is one, else create it."""
    found = find(client.issue_comments(pr.repository, pr.number), marker, author)
    if found is None:
        return Posted("created", client.create_comment(pr.repository, pr.number, body))
    return Posted("updated", client.update_comment(pr.repository, found, body))


def pull_request(
    env: Mapping[str, str],
    *,
    number: int | None,
    repository: str | None,
    artifact_url: str | None,
    version: str,
) -> PullRequest:
    """Everything the comment needs from options and the GitHub Actions environment."""
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: the comment needs a token of the workflow run")
    repository = repository or env.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise UsageError("no repository: pass --repository OWNER/NAME or set GITHUB_REPOSITORY")
    if not _REPOSITORY.fullmatch(repository):
        raise UsageError(f"repository must be OWNER/NAME, not {repository!r}")
    event = _event(env.get("GITHUB_EVENT_PATH", ""))
    if number is None:
        number = _event_number(event)
    if number is None:
        raise UsageError(
            "no pull request number: pass --pr NUMBER or run on a pull_request event "
            "(GITHUB_EVENT_PATH)"
        )
    server, run_id = env.get("GITHUB_SERVER_URL", "").rstrip("/"), env.get("GITHUB_RUN_ID", "")
    run_url = f"{server}/{repository}/actions/runs/{run_id}" if server and run_id else ""
    head_sha = _head_sha(event) or env.get("GITHUB_SHA", "")
    return PullRequest(
        api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        token=token,
        repository=repository,
        number=number,
        run=RunInfo(
            artifact_url=artifact_url or run_url,
            run_url=run_url,
            head_sha=head_sha,
            version=version,
        ),
    )


def _event(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the GitHub event: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: the GitHub event is not JSON") from exc
    return data if isinstance(data, dict) else {}


def _event_number(event: dict[str, Any]) -> int | None:
    """The pull request of a pull_request(_target) event, or of a comment on one."""
    for holder in (event.get("pull_request"), event.get("issue")):
        if isinstance(holder, dict) and isinstance(holder.get("number"), int):
            return int(holder["number"])
    return None


def _head_sha(event: dict[str, Any]) -> str:
    """The pull request's head commit (GITHUB_SHA is the merge commit GitHub made for it)."""
    pr = event.get("pull_request")
    head = pr.get("head") if isinstance(pr, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else ""
