"""Talking to a running Directus over its REST API (stdlib HTTP): check the admin token before
an apply writes anything, and after it commits clear the system cache and reload the flows so
the API serves the new definitions at once, without a restart."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from appsync.errors import ConfigError

TIMEOUT = 15.0
#: Answers that mean "not now": Directus's pressure limiter (503) and rate limiter (429).
BUSY = (429, 503)
#: Tries of a request Directus answers busy, and the longest wait between two (seconds).
TRIES = 5
MAX_WAIT = 5.0


class DirectusApi:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request; one Directus answers busy is tried again (after its Retry-After, at
        most MAX_WAIT seconds), up to TRIES times, as a busy instance asks."""
        for attempt in range(1, TRIES + 1):
            status, payload, retry_after = self._once(method, path, body)
            if status not in BUSY or attempt == TRIES:
                break
            time.sleep(min(retry_after if retry_after is not None else attempt, MAX_WAIT))
        return status, payload

    def _once(self, method: str, path: str, body: Any) -> tuple[int, Any, float | None]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        retry_after: float | None = None
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
            try:
                retry_after = max(0.0, float(exc.headers.get("Retry-After", "")))
            except ValueError:
                retry_after = None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConfigError(f"Directus API {self.url}: cannot connect: {reason}") from exc
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return status, payload, retry_after

    @staticmethod
    def _message(payload: Any) -> str:
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("errors"), list)
            and payload["errors"]
        ):
            first = payload["errors"][0]
            if isinstance(first, dict):
                return str(first.get("message", ""))[:200]
        return ""

    def check(self) -> str:
        """The Directus version the API reports, after checking the token is an admin's."""
        status, payload = self._call("GET", "/server/health")
        if status in (401, 403):
            detail = self._message(payload) or f"HTTP {status}"
            raise ConfigError(
                f"Directus API {self.url}: the token is missing, wrong or not an admin's ({detail})"
            )
        if status != 200 or not isinstance(payload, dict):
            raise ConfigError(f"Directus API {self.url}: /server/health answered HTTP {status}")
        return str(payload.get("releaseId") or "unknown")

    def clear_cache(self) -> None:
        status, payload = self._call("POST", "/utils/cache/clear?system=true")
        if status >= 300:
            raise ConfigError(
                f"clearing the cache failed: HTTP {status} {self._message(payload)}".strip()
            )

    def reload_flows(self) -> None:
        """Any REST write to /flows reloads them; an update of no flow writes nothing."""
        status, payload = self._call("PATCH", "/flows", {"keys": [], "data": {}})
        if status >= 300:
            raise ConfigError(
                f"reloading the flows failed: HTTP {status} {self._message(payload)}".strip()
            )
