"""Scripted repositories for the fake GitHub server: pull requests, issues, comments, timelines, files.

Answers are shaped like GitHub's (the fields the harvester reads, named as GitHub names them); lists are
paginated with ``per_page``/``page`` and a Link header whose URLs use https://api.github.com, which the server
rewrites to its own address.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from typing import Any

GITHUB = "https://api.github.com"
Answer = tuple[int, Any, dict[str, str]]


@dataclass
class FakeRepo:
    full_name: str
    licence: str | None = "MIT"
    default_branch: str = "main"
    moved_to: str = ""  # a renamed repository answers 301 to its new name
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    diffs: dict[int, str] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    timeline: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contents: dict[str, dict[str, str]] = field(default_factory=dict)  # ref -> path -> text

    def add_pr(self, number: int, title: str, diff: str, *, body: str = "", merged: bool = True,
               base_sha: str = "a" * 40, created_at: str = "2021-03-01T00:00:00Z",
               merged_at: str = "2021-03-02T00:00:00Z") -> dict[str, Any]:  # fmt: skip
        pr = {
            "number": number, "title": title, "body": body, "state": "closed",
            "created_at": created_at, "updated_at": merged_at, "closed_at": merged_at,
            "merged_at": merged_at if merged else None,
            "merge_commit_sha": f"{number:040x}",
            "base": {"sha": base_sha, "ref": self.default_branch},
            "html_url": f"https://github.com/{self.full_name}/pull/{number}",
        }  # fmt: skip
        self.pulls[number], self.diffs[number] = pr, diff
        return pr

    def add_issue(self, number: int, title: str, body: str = "", *, closed_by: int | None = None,
                  comments: list[tuple[str, str]] | None = None,
                  created_at: str = "2021-02-01T00:00:00Z") -> dict[str, Any]:  # fmt: skip
        issue = {"number": number, "title": title, "body": body, "state": "closed",
                 "created_at": created_at, "updated_at": created_at, "closed_at": created_at,
                 "html_url": f"https://github.com/{self.full_name}/issues/{number}"}  # fmt: skip
        self.issues[number] = issue
        self.comments[number] = [
            {"id": number * 1000 + i, "created_at": at, "body": text, "user": {"login": "someone"}}
            for i, (at, text) in enumerate(comments or [])
        ]
        if closed_by is not None:
            source = {"issue": {"number": closed_by, "pull_request": {"url": "x"},
                                "repository": {"full_name": self.full_name}}}  # fmt: skip
            self.timeline[number] = [{"event": "cross-referenced", "source": source}]
        return issue

    def as_json(self) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        licence = {"spdx_id": self.licence, "key": (self.licence or "").lower()} if self.licence else None
        clone = f"https://github.com/{self.full_name}.git"
        return {"full_name": self.full_name, "name": name, "owner": {"login": owner}, "license": licence,
                "default_branch": self.default_branch, "clone_url": clone}  # fmt: skip

    def files(self, number: int) -> list[dict[str, Any]]:
        names = re.findall(r"^diff --git a/\S+ b/(\S+)$", self.diffs.get(number, ""), re.MULTILINE)
        return [{"filename": n, "status": "modified"} for n in names]


def route_repo(
    repos: dict[str, FakeRepo], method: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> Answer | None:
    """The answer to one request, or None for 404."""
    if method != "GET":
        return None
    if path == "/search/repositories":
        items = [r.as_json() for r in repos.values() if not r.moved_to]
        return _page(path, query, items, wrap=True)
    match = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", path)
    repo = repos.get(match.group(1).lower()) if match else None
    if repo is None or match is None:
        return None
    if repo.moved_to:
        rest = match.group(2) or ""
        return 301, {"message": "Moved Permanently"}, {"location": f"{GITHUB}/repos/{repo.moved_to}{rest}"}
    return _repo_route(repo, match.group(2) or "", query, headers)


def _repo_route(repo: FakeRepo, rest: str, query: dict[str, str], headers: dict[str, str]) -> Answer | None:
    base = f"/repos/{repo.full_name}{rest}"
    if rest == "":
        return 200, repo.as_json(), {}
    if rest == "/pulls":
        pulls = [p for _, p in sorted(repo.pulls.items())]
        return _page(base, query, pulls)
    if rest == "/issues":
        issues = [i for _, i in sorted(repo.issues.items())]
        return _page(base, query, issues)
    if m := re.match(r"^/pulls/(\d+)$", rest):
        return _pull(repo, int(m.group(1)), headers)
    if m := re.match(r"^/pulls/(\d+)/files$", rest):
        return _page(base, query, repo.files(int(m.group(1))))
    if m := re.match(r"^/issues/(\d+)(/comments|/timeline)?$", rest):
        return _issue(repo, int(m.group(1)), m.group(2) or "", base, query)
    if m := re.match(r"^/git/trees/([0-9a-f]+)$", rest):
        tree = [{"path": p, "type": "blob"} for p in sorted(repo.contents.get(m.group(1), {}))]
        return 200, {"sha": m.group(1), "tree": tree, "truncated": False}, {}
    if m := re.match(r"^/contents/(.+)$", rest):
        text = repo.contents.get(query.get("ref", ""), {}).get(m.group(1))
        if text is None:
            return 404, {"message": "Not Found"}, {}
        return 200, {"encoding": "base64", "content": base64.b64encode(text.encode()).decode()}, {}
    return None


def _pull(repo: FakeRepo, number: int, headers: dict[str, str]) -> Answer | None:
    if number not in repo.pulls:
        return None
    if "diff" in headers.get("accept", ""):
        return 200, repo.diffs[number], {}
    return 200, repo.pulls[number], {}


def _issue(repo: FakeRepo, number: int, sub: str, base: str, query: dict[str, str]) -> Answer | None:
    if number not in repo.issues:
        return None
    if sub == "/comments":
        return _page(base, query, repo.comments.get(number, []))
    if sub == "/timeline":
        return _page(base, query, repo.timeline.get(number, []))
    return 200, repo.issues[number], {}


def _page(base: str, query: dict[str, str], items: list[Any], wrap: bool = False) -> Answer:
    per_page = min(int(query.get("per_page", 30)), 100)
    page = int(query.get("page", 1))
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    others = "".join(f"&{k}={v}" for k, v in sorted(query.items()) if k not in ("page", "per_page"))
    if page < last:
        links.append(f'<{GITHUB}{base}?per_page={per_page}&page={page + 1}{others}>; rel="next"')
        links.append(f'<{GITHUB}{base}?per_page={per_page}&page={last}{others}>; rel="last"')
    headers = {"link": ", ".join(links)} if links else {}
    body: Any = {"total_count": len(items), "items": chunk} if wrap else chunk
    return 200, body, headers
