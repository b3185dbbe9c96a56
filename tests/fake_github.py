"""A local HTTP server that speaks the GitHub REST API's issue comment endpoints, and records
every request it received. Tests point GITHUB_API_URL at it.

- ``GET  /repos/{owner}/{repo}/issues/{n}/comments``: pages of ``page_size`` comments
  (GitHub's ``per_page`` and ``page``), with a ``Link`` header to the next and last pages;
- ``POST`` to the same path creates a comment (201);
- ``PATCH /repos/{owner}/{repo}/issues/comments/{id}`` updates one (200);
- a request without ``Authorization: Bearer <token>`` gets 401 ``Bad credentials``;
  ``fail`` makes the given methods answer with a status of the test's choosing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers import serve_locally

TOKEN = "ghs_test-token"
BOT = "github-actions[bot]"

_MESSAGES = {
    401: "Bad credentials",
    403: "Resource not accessible by integration",
    500: "Server Error",
}
_LIST = re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments")
_ONE = re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)")


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    #: Header names in lower case.
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    page_size: int = 100
    #: Method -> HTTP status to answer with instead of doing the work.
    fail: dict[str, int] = field(default_factory=dict)
    #: Where the Link header points (default: this server).
    link_base: str | None = None
    url: str = ""
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _next_id: int = 9000

    def add(self, repository: str, number: int, body: str, login: str = "someone") -> int:
        """A comment already on the pull request (someone else's, or an earlier run's)."""
        self._next_id += 1
        comment = {
            "id": self._next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.example/{repository}/pull/{number}"
            f"#issuecomment-{self._next_id}",
        }
        self.comments.setdefault((repository, number), []).append(comment)
        return self._next_id

    def on(self, repository: str, number: int) -> list[dict[str, Any]]:
        return self.comments.get((repository, number), [])

    def methods(self) -> list[str]:
        return [r.method for r in self.received]

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple:
        parts = urlsplit(target)
        body = json.loads(raw) if raw else None
        self.received.append(Received(method, parts.path, parse_qs(parts.query), headers, body))
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}, {}
        if method in self.fail:
            status = self.fail[method]
            return status, {"message": _MESSAGES.get(status, "Error")}, {}
        listing, one = _LIST.fullmatch(parts.path), _ONE.fullmatch(parts.path)
        if listing and method == "GET":
            return self._page(listing.group(1), int(listing.group(2)), parts.path, parts.query)
        if listing and method == "POST":
            new = self.add(listing.group(1), int(listing.group(2)), body["body"], login=BOT)
            return 201, self._find(new), {}
        if one and method == "PATCH":
            comment = self._find(int(one.group(2)))
            if comment is None:
                return 404, {"message": "Not Found"}, {}
            comment["body"] = body["body"]
            return 200, comment, {}
        return 404, {"message": "Not Found"}, {}

    def _page(self, repository: str, number: int, path: str, query: str) -> tuple:
        args = parse_qs(query)
        size = min(int(args.get("per_page", ["30"])[0]), self.page_size)
        page = int(args.get("page", ["1"])[0])
        items = self.on(repository, number)
        last = max((len(items) + size - 1) // size, 1)
        links = []
        base = (self.link_base or self.url) + path
        if page < last:
            links.append(f'<{base}?per_page={size}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={size}&page={last}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * size : page * size], headers

    def _find(self, comment_id: int) -> dict[str, Any] | None:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        return None


@contextmanager
def serving(github: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve ``github`` on a free local port in a thread for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, payload, extra = github.handle(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_locally(Handler) as url:
        github.url = url
        yield github
