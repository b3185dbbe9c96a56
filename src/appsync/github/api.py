"""Review stage, for GitHub: the only HTTP user. A tiny client for the REST API's issue
comment endpoints (pull requests are issues there), on the standard library's urllib.

Every failure becomes one :class:`GitHubError` naming the request and GitHub's message.
The token goes only to the API's own origin: a pagination link elsewhere is refused.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from appsync import __version__
from appsync.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
#: Pages of comments read at most (10,000 comments with PER_PAGE).
MAX_PAGES = 100
TIMEOUT = 30.0

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_PERMISSION_HINT = (
    " (the token needs permission to write pull request comments: "
    "'permissions: pull-requests: write' in the workflow)"
)


class GitHub:
    """Requests to one GitHub API (github.com's, or a GitHub Enterprise Server's)."""

    def __init__(self, api_url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        self._token = token
        self._timeout = timeout

    def issue_comments(self, repository: str, number: int) -> Iterator[dict[str, Any]]:
        """Every comment of an issue or pull request, oldest first, following ``Link``."""
        url: str | None = f"/repos/{repository}/issues/{number}/comments?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page, headers = self._request("GET", url)
            if not isinstance(page, list):
                raise GitHubError(f"GitHub API GET {_path(url)}: expected a list of comments")
            yield from (c for c in page if isinstance(c, dict))
            url = _next_link(headers.get("Link", ""))
            if url is not None and _origin(url) != self._origin:
                raise GitHubError(f"GitHub API: refusing a pagination link to {_origin(url)}")

    def create_comment(self, repository: str, number: int, body: str) -> dict[str, Any]:
        path = f"/repos/{repository}/issues/{number}/comments"
        return _object(self._request("POST", path, {"body": body})[0], "POST", path)

    def update_comment(self, repository: str, comment_id: int, body: str) -> dict[str, Any]:
        path = f"/repos/{repository}/issues/comments/{comment_id}"
        return _object(self._request("PATCH", path, {"body": body})[0], "PATCH", path)

    def _request(
        self, method: str, url: str, payload: dict[str, Any] | None = None
    ) -> tuple[Any, Any]:
        full = url if "://" in url else self.api_url + url
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(full, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", f"appsync/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json; charset=utf-8")
        where = f"GitHub API {method} {_path(full)}"
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw = response.read()
                headers = response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                message = _message(exc.read())
            hint = _PERMISSION_HINT if exc.code in (403, 404) and method != "GET" else ""
            raise GitHubError(f"{where}: HTTP {exc.code} {message}{hint}".rstrip()) from exc
        except urllib.error.URLError as exc:
            raise GitHubError(f"{where}: cannot reach {self._origin}: {exc.reason}") from exc
        except (TimeoutError, OSError) as exc:
            raise GitHubError(f"{where}: cannot reach {self._origin}: {exc}") from exc
        try:
            return (json.loads(raw) if raw else None), headers
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GitHubError(f"{where}: the response is not JSON") from exc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path if "://" in url else url.split("?", 1)[0]


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        match = _NEXT.search(part)
        if match:
            return match.group(1)
    return None


def _message(raw: bytes) -> str:
    """GitHub's own message from an error response, else the start of the response."""
    text = raw.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return " ".join(text.split())[:200]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return " ".join(data["message"].split())[:300]
    return ""


def _object(value: Any, method: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), int):
        raise GitHubError(f"GitHub API {method} {path}: expected a comment in the response")
    return value
