"""Candidates from the GitHub REST API: merged pull requests, their linked issues, diffs and hints.

Issue-to-PR links come from closing keywords in the PR and from ``cross-referenced`` events on the timelines
of closed issues. A cursor in the harvest database (the last PR number done) lets an interrupted harvest
resume; ETags make re-listing the pages it already saw free of rate-limit cost.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

from envfarm.errors import GitHubError
from envfarm.harvest.candidate import Candidate, Issue
from envfarm.harvest.envinfer import wanted
from envfarm.harvest.ghclient import GitHubClient
from envfarm.harvest.languages import PathRules
from envfarm.harvest.ledgerdb import HarvestDB
from envfarm.harvest.links import closing_refs

log = logging.getLogger(__name__)
SOURCE = "github"


def search_repos(client: GitHubClient, query: str, limit: int = 100) -> list[str]:
    """Full names of the repositories a GitHub search query finds (e.g. "language:python stars:>500")."""
    items = client.paginate("/search/repositories", {"q": query}, limit=limit)
    return [str(item["full_name"]) for item in items]


def timeline_links(client: GitHubClient, repo: str) -> dict[int, list[int]]:
    """PR number -> issues it closes, from ``cross-referenced`` events on closed issues' timelines."""
    links: dict[int, list[int]] = {}
    for issue in client.paginate(f"/repos/{repo}/issues", {"state": "closed"}):
        if "pull_request" in issue:
            continue
        for event in client.paginate(f"/repos/{repo}/issues/{issue['number']}/timeline"):
            source = (event.get("source") or {}).get("issue") or {}
            same_repo = (source.get("repository") or {}).get("full_name", repo).lower() == repo.lower()
            if event.get("event") == "cross-referenced" and "pull_request" in source and same_repo:
                links.setdefault(int(source["number"]), []).append(int(issue["number"]))
    return links


def fetch_issue(client: GitHubClient, repo: str, number: int) -> Issue | None:
    try:
        data = client.get_json(f"/repos/{repo}/issues/{number}")
    except GitHubError as exc:
        if exc.status in (404, 410):
            return None
        raise
    if "pull_request" in data:
        return None  # a PR number, not an issue
    comments = [
        (str(c.get("created_at", "")), str(c.get("body") or ""))
        for c in client.paginate(f"/repos/{repo}/issues/{number}/comments")
    ]
    return Issue(number=number, title=str(data.get("title") or ""), body=str(data.get("body") or ""),
                 created_at=str(data.get("created_at", "")), comments=comments)  # fmt: skip


def harvest_repo(
    client: GitHubClient,
    name: str,
    db: HarvestDB,
    *,
    use_timeline: bool = True,
    limit: int | None = None,
    rules: PathRules | None = None,
) -> Iterator[Candidate]:
    """Candidates for every closed PR of ``name`` after the saved cursor, oldest first."""
    repo = client.get_json(f"/repos/{name}")
    full = str(repo["full_name"])  # follows a rename (301)
    licence = (repo.get("license") or {}).get("spdx_id")
    links = timeline_links(client, full) if use_timeline else {}
    last = int(db.get_cursor(SOURCE, full).get("last_pr", 0))
    params = {"state": "closed", "sort": "created", "direction": "asc"}
    for pr in client.paginate(f"/repos/{full}/pulls", params, limit=limit):
        if int(pr["number"]) <= last:
            continue
        yield _candidate(client, full, pr, licence, links.get(int(pr["number"]), []), rules or PathRules())
        db.set_cursor(SOURCE, full, {"last_pr": int(pr["number"])})


def _candidate(
    client: GitHubClient,
    repo: str,
    pr: dict[str, Any],
    licence: str | None,
    linked: list[int],
    rules: PathRules,
) -> Candidate:
    number = int(pr["number"])
    cand = Candidate(
        repo=repo, key=f"pr-{number}", kind="github_pr", base_commit=str(pr["base"]["sha"]),
        fix_commit=str(pr.get("merge_commit_sha") or ""), merged=bool(pr.get("merged_at")), pr_number=number,
        title=str(pr.get("title") or ""), body=str(pr.get("body") or ""),
        created_at=str(pr.get("created_at", "")), licence=licence, url=str(pr.get("html_url", "")),
    )  # fmt: skip
    if not cand.merged:
        return cand  # no request spent on what the filters drop first
    files = [str(f["filename"]) for f in client.paginate(f"/repos/{repo}/pulls/{number}/files")]
    if not any(rules.is_test(f) for f in files):
        return cand.model_copy(update={"diff": _headers_only(files)})  # dropped as no_test_change
    numbers = list(dict.fromkeys(closing_refs(f"{cand.title}\n{cand.body}", repo) + linked))
    issues = [i for i in (fetch_issue(client, repo, n) for n in numbers) if i is not None]
    diff = client.get_text(f"/repos/{repo}/pulls/{number}")
    return cand.model_copy(update={"diff": diff, "issues": issues, "issue_numbers": numbers})


def _headers_only(files: list[str]) -> str:
    return "".join(f"diff --git a/{f} b/{f}\n" for f in files)


class GitHubFiles:
    """Environment-inference files at a commit, read through the API (git tree + contents)."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def __call__(self, cand: Candidate) -> dict[str, str]:
        tree = self.client.get_json(f"/repos/{cand.repo}/git/trees/{cand.base_commit}", {"recursive": "1"})
        paths = [
            str(t["path"]) for t in tree.get("tree", []) if t.get("type") == "blob" and wanted(t["path"])
        ]
        return {p: self._read(cand.repo, p, cand.base_commit) for p in paths}

    def _read(self, repo: str, path: str, ref: str) -> str:
        data = self.client.get_json(f"/repos/{repo}/contents/{path}", {"ref": ref})
        return base64.b64decode(str(data.get("content", ""))).decode("utf-8", "replace")
