"""A fake GitHub REST server on loopback: real recorded exchanges plus scripted repositories.

It serves the recorded exchanges of ``../shared/data/github/`` (nock files from octokit/fixtures and betamax
cassettes from github3.py) with ``https://api.github.com`` rewritten to its own address, and scripted
repositories (:mod:`envfarm.testing.fake_github_repo`) with real behaviour: pagination by Link headers,
ETag/304, x-ratelimit-* headers with a primary limit that runs out, injected secondary limits (403/429 with
Retry-After), redirects and errors. Every request is recorded for assertions. Time comes from a clock
callable so tests can share one fake clock with the client.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from envfarm.testing.fake_github_repo import FakeRepo, route_repo

GITHUB = "https://api.github.com"
_DROP = {"content-encoding", "content-length", "transfer-encoding", "connection"}


class FakeClock:
    """One clock for the fake server and the client under test: sleeping advances time at once."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    accept: str = ""  # for recordings: the Accept the recorded request sent


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


def _key(method: str, target: str) -> tuple[str, str, frozenset[tuple[str, str]]]:
    parts = urlsplit(target)
    return method.upper(), parts.path, frozenset(parse_qsl(parts.query))


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(data).encode()
    return Reply(status, body, {"content-type": "application/json; charset=utf-8", **(headers or {})})


class FakeGitHub:
    """The fake's state and routing; :meth:`start` serves it on 127.0.0.1 in a background thread."""

    def __init__(
        self, clock: Callable[[], float] = time.time, rate_limit: int = 5000, prefix: str = ""
    ) -> None:
        self.clock = clock
        self.prefix = prefix.rstrip("/")  # an Enterprise server answers under /api/v3
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.reset_at = clock() + 3600
        self.recorded: dict[tuple[str, str, frozenset[tuple[str, str]]], list[Reply]] = {}
        self.injected: list[tuple[str, Reply]] = []  # (path prefix, reply) served once each, in order
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[Seen] = []
        self.base_url = ""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- set-up -------------------------------------------------------------------------------------
    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.full_name.lower()] = repo
        return repo

    def inject(self, path_prefix: str, reply: Reply, times: int = 1) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` with ``reply`` instead."""
        self.injected += [(path_prefix, reply)] * times

    def secondary_limit(self, path_prefix: str, retry_after: int = 30, status: int = 403) -> None:
        body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
        self.inject(path_prefix, json_reply(body, status, {"retry-after": str(retry_after)}))

    def load_recordings(self, folder: Path) -> int:
        """Load every nock (``octokit/*.json``) and betamax (``github3py/*.json``) file under ``folder``."""
        count = 0
        for path in sorted(folder.rglob("*.json")):
            data = json.loads(path.read_text())
            entries = _from_betamax(data) if isinstance(data, dict) else _from_nock(data)
            for key, reply in entries:
                self.recorded.setdefault(key, []).append(reply)
                count += 1
        return count

    # -- serving ------------------------------------------------------------------------------------
    def start(self) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}{self.prefix}"
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-github", daemon=True)
        serve.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        if self.prefix:
            if not target.startswith(self.prefix + "/"):
                return json_reply({"message": "Not Found"}, 404)
            target = target[len(self.prefix) :]
        with self._lock:
            self.requests.append(Seen(method, target, headers))
            reply = self._injected(target) or self._limited() or self._route(method, target, headers)
            return self._finish(reply, headers)

    def _injected(self, target: str) -> Reply | None:
        for i, (prefix, reply) in enumerate(self.injected):
            if target.startswith(prefix):
                del self.injected[i]
                return reply
        return None

    def _limited(self) -> Reply | None:
        if self.clock() >= self.reset_at:
            self.remaining, self.reset_at = self.rate_limit, self.clock() + 3600
        if self.remaining > 0:
            return None
        return json_reply({"message": "API rate limit exceeded for user."}, 403)

    def _route(self, method: str, target: str, headers: dict[str, str]) -> Reply:
        found = self.recorded.get(_key(method, target))
        if found:
            accept = headers.get("accept", "")
            return next((r for r in found if r.accept and r.accept == accept), found[0])
        parts = urlsplit(target)
        reply = route_repo(self.repos, method, parts.path, dict(parse_qsl(parts.query)), headers)
        if reply is None:
            return json_reply({"message": "Not Found"}, 404)
        status, body, extra = reply
        if isinstance(body, str):
            return Reply(status, body.encode(), {"content-type": "application/vnd.github.diff", **extra})
        return json_reply(body, status, extra)

    def _finish(self, reply: Reply, headers: dict[str, str]) -> Reply:
        out = Reply(reply.status, reply.body, {k.lower(): v for k, v in reply.headers.items()})
        if out.status == 200 and "etag" not in out.headers:
            out.headers["etag"] = '"' + hashlib.sha1(out.body).hexdigest() + '"'
        if out.status == 200 and headers.get("if-none-match") == out.headers["etag"]:
            return Reply(304, b"", {"etag": out.headers["etag"], **self._rate_headers()})
        if out.status not in (304,) and "retry-after" not in out.headers:
            self.remaining = max(0, self.remaining - 1)
        out.headers.update(self._rate_headers())
        for name in ("link", "location"):
            if name in out.headers:
                out.headers[name] = out.headers[name].replace(GITHUB, self.base_url)
        return out

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at)),
            "x-ratelimit-used": str(self.rate_limit - self.remaining),
            "x-ratelimit-resource": "core",
        }


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake.handle(self.command, self.path, headers)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: tests read fake.requests instead

    return Handler


def _from_nock(entries: list[dict[str, Any]]) -> list[tuple[Any, Reply]]:
    out = []
    for e in entries:
        body = e.get("response", "")
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers = {k: str(v) for k, v in e.get("headers", {}).items() if k.lower() not in _DROP}
        accept = str(e.get("reqheaders", {}).get("accept", ""))
        out.append((_key(e["method"], e["path"]), Reply(int(e["status"]), raw, headers, accept)))
    return out


def _from_betamax(data: dict[str, Any]) -> list[tuple[Any, Reply]]:
    out = []
    for i in data.get("http_interactions", []):
        request, response = i["request"], i["response"]
        body = response["body"]
        raw = body.get("string", "").encode()
        if body.get("base64_string"):
            raw = base64.b64decode(body["base64_string"])
            raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        headers = {k: _first(v) for k, v in response["headers"].items() if k.lower() not in _DROP}
        accept = _first(request["headers"].get("Accept", ""))
        target = request["uri"].replace(GITHUB, "")
        reply = Reply(int(response["status"]["code"]), raw, headers, accept)
        out.append((_key(request["method"], target), reply))
    return out


def _first(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else str(value)
