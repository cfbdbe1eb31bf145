"""GitHub REST client: pagination by Link, ETag conditional requests, rate limits handled by waiting.

The token comes from ``GITHUB_TOKEN`` (or the caller) and lives only in the Authorization header: it is
never logged, never put into errors, never written to records. Clock and sleep are injectable, and one
:class:`RateBudget` can be shared by many clients and threads (many repositories, one budget).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx

from envfarm.errors import GitHubError, RateLimited

log = logging.getLogger(__name__)
DEFAULT_BASE = "https://api.github.com"
JSON = "application/vnd.github+json"
DIFF = "application/vnd.github.diff"


class EtagCache(Protocol):
    def cached(self, url: str) -> tuple[str, str] | None: ...
    def cache(self, url: str, etag: str, body: str) -> None: ...


class MemoryCache:
    def __init__(self) -> None:
        self._data: dict[str, tuple[str, str]] = {}

    def cached(self, url: str) -> tuple[str, str] | None:
        return self._data.get(url)

    def cache(self, url: str, etag: str, body: str) -> None:
        self._data[url] = (etag, body)


class RateBudget:
    """What GitHub last said about each rate-limit resource; waits before a request when one is spent."""

    def __init__(self, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._left: dict[str, tuple[int, float]] = {}  # resource -> (remaining, reset epoch seconds)
        self.waited_s = 0.0

    def update(self, resource: str, headers: httpx.Headers) -> None:
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        with self._lock:
            self._left[headers.get("x-ratelimit-resource", resource)] = (int(remaining), epoch_s(reset))

    def before(self, resource: str) -> None:
        with self._lock:
            remaining, reset = self._left.get(resource, (1, 0.0))
        if remaining <= 0:
            self.wait(reset - self.clock() + 1, f"{resource} rate limit spent")

    def wait(self, seconds: float, why: str) -> None:
        if seconds <= 0:
            return
        log.info("waiting %.0f s: %s", seconds, why)
        self.waited_s += seconds
        self.sleep(seconds)


def epoch_s(reset: str) -> float:
    """x-ratelimit-reset in seconds (some recordings carry milliseconds)."""
    value = float(reset)
    return value / 1000 if value > 1e11 else value


class GitHubClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE,
        *,
        token: str | None = None,
        budget: RateBudget | None = None,
        cache: EtagCache | None = None,
        max_retries: int = 6,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget or RateBudget()
        self.cache: EtagCache = cache or MemoryCache()
        self.max_retries = max_retries
        secret = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
        headers = {"user-agent": "envfarm-harvest", "x-github-api-version": "2022-11-28"}
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        self._http = httpx.Client(headers=headers, timeout=timeout_s, follow_redirects=True)
        self.requests = 0

    def __repr__(self) -> str:
        return f"GitHubClient({self.base_url!r})"  # never the token

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return json.loads(self._get(self.url(path), params, JSON)[0])

    def get_text(self, path: str, accept: str = DIFF) -> str:
        return self._get(self.url(path), None, accept)[0]

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, limit: int | None = None
    ) -> Iterator[Any]:
        """Every item of a list endpoint, following Link rel="next" page by page; search results unwrapped."""
        url: str | None = self.url(path)
        query = {"per_page": 100, **(params or {})}
        count = 0
        while url is not None:
            text, next_url = self._get(url, query, JSON)
            data = json.loads(text)
            for item in data["items"] if isinstance(data, dict) and "items" in data else data:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            url, query = next_url, {}

    def _get(self, url: str, params: dict[str, Any] | None, accept: str) -> tuple[str, str | None]:
        full = str(httpx.URL(url, params=params)) if params else url
        resource = "search" if "/search/" in full else "core"
        for attempt in range(self.max_retries + 1):
            self.budget.before(resource)
            resp = self._send(full, accept)
            self.budget.update(resource, resp.headers)
            wait = self._retry_wait(resp, attempt)
            if wait is None:
                return self._body(full, resp, accept)
            if attempt == self.max_retries:
                raise RateLimited(_describe(full, resp), status=resp.status_code, wait_s=wait)
            self.budget.wait(wait, f"GitHub answered {resp.status_code} for {_path(full)}")
        raise GitHubError(f"GET {_path(full)}: retries exhausted")  # pragma: no cover

    def _send(self, full: str, accept: str) -> httpx.Response:
        headers = {"accept": accept}
        hit = self.cache.cached(f"{accept} {full}")
        if hit is not None:
            headers["if-none-match"] = hit[0]
        self.requests += 1
        try:
            return self._http.get(full, headers=headers)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GET {_path(full)}: {type(exc).__name__}") from None

    def _retry_wait(self, resp: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        code, headers = resp.status_code, resp.headers
        if code >= 500:
            return float(2**attempt)
        if code not in (403, 429):
            return None
        if "retry-after" in headers:
            return float(headers["retry-after"])
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            return max(1.0, epoch_s(headers["x-ratelimit-reset"]) - self.budget.clock() + 1)
        if code == 429 or "rate limit" in resp.text.lower():
            return float(60 * 2**attempt)  # secondary limit without Retry-After: back off
        return None

    def _body(self, full: str, resp: httpx.Response, accept: str) -> tuple[str, str | None]:
        key = f"{accept} {full}"
        if resp.status_code == 304:
            hit = self.cache.cached(key)
            if hit is None:
                raise GitHubError(f"GET {_path(full)}: 304 without a cached body", status=304)
            return hit[1], _next_link(resp)
        if resp.status_code >= 400:
            raise GitHubError(_describe(full, resp), status=resp.status_code)
        if "etag" in resp.headers:
            self.cache.cache(key, resp.headers["etag"], resp.text)
        return resp.text, _next_link(resp)


def _next_link(resp: httpx.Response) -> str | None:
    link = resp.links.get("next")
    return link.get("url") if link else None


def _path(url: str) -> str:
    parsed = httpx.URL(url)
    return parsed.raw_path.decode("ascii", "replace")


def _describe(url: str, resp: httpx.Response) -> str:
    try:
        message = str(resp.json().get("message", ""))
    except (ValueError, AttributeError):
        message = resp.text[:200]
    return f"GET {_path(url)}: {resp.status_code} {message}".strip()
