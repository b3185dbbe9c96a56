"""appsync's Directus API client against a local HTTP server: a busy Directus (its pressure
limiter's 503, its rate limiter's 429) is asked again as it says, within a bound."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from appsync.errors import ConfigError
from appsync.instance.directus import api
from tests.helpers import serve_locally


class Busy(http.server.BaseHTTPRequestHandler):
    """Answers busy (503 with Retry-After: 0) to the first ``busy`` requests, then 200."""

    busy: ClassVar[int] = 0
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        if len(type(self).seen) <= type(self).busy:
            body = {"errors": [{"message": 'Service "api" is unavailable. Under pressure.'}]}
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = {"status": "ok", "releaseId": "12.4.0"}
            self.send_response(200)
        data = json.dumps(body).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Busy.seen = []
    with serve_locally(Busy) as url:
        yield url


def test_a_busy_directus_is_asked_again(server: str) -> None:
    Busy.busy = 2
    client = api.DirectusApi(server, "t")
    assert client.check() == "12.4.0"
    client.clear_cache()
    assert Busy.seen == ["GET /server/health"] * 3 + ["POST /utils/cache/clear?system=true"]


def test_a_directus_that_stays_busy_is_one_error_after_a_bounded_number_of_tries(
    server: str,
) -> None:
    Busy.busy = 100
    with pytest.raises(ConfigError, match=r"clearing the cache failed: HTTP 503 .*Under pressure"):
        api.DirectusApi(server, "t").clear_cache()
    assert len(Busy.seen) == api.TRIES
