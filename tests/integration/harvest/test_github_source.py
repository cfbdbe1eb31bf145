"""Harvesting candidates from a scripted repository on the fake GitHub server."""

from __future__ import annotations

from pathlib import Path

from envfarm.harvest.filters import FilterConfig
from envfarm.harvest.ghclient import GitHubClient
from envfarm.harvest.ghsource import GitHubFiles, harvest_repo, search_repos
from envfarm.harvest.ledger import Reason, Stage
from envfarm.harvest.ledgerdb import HarvestDB
from envfarm.harvest.pipeline import Harvester
from envfarm.testing.fake_github import FakeGitHub
from envfarm.testing.fake_github_repo import FakeRepo


def fd(path: str, line: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-old\n+{line}\n"


FIX = fd("pkg/core.py", "return 2") + fd("tests/test_core.py", "assert f() == 2")
BASE = "b" * 40


def scripted(fake: FakeGitHub, name: str = "acme/widgets") -> FakeRepo:
    repo = fake.add_repo(FakeRepo(name, licence="MIT"))
    repo.add_issue(
        10, "Widget breaks on zero", "Calling widget(0) raises ZeroDivisionError instead of returning 0.",
        comments=[("2021-02-15T00:00:00Z", "Confirmed on 1.2"), ("2021-03-05T00:00:00Z", "Thanks")],
        closed_by=1,
    )  # fmt: skip
    repo.add_issue(11, "Docs typo", "The README says wdiget.")
    repo.add_pr(1, "Handle zero", FIX, body="A small change.", base_sha=BASE)  # linked by the timeline
    repo.add_pr(2, "Fix typo", fd("README.md", "widget"), body="Fixes #11")
    repo.add_pr(3, "Abandoned", FIX, merged=False)
    repo.add_pr(4, "Also zero", FIX.replace("return 2", "return 3"), body="Fixes #10 as well, differently.")
    repo.contents[BASE] = {"pyproject.toml": '[project]\nname = "w"\nrequires-python = ">=3.8"\n'}
    return repo


def test_candidates_link_issues_by_timeline_and_keywords(
    fake: FakeGitHub, client: GitHubClient, tmp_path: Path
) -> None:
    scripted(fake)
    db = HarvestDB(tmp_path / "h.db")
    cands = {c.key: c for c in harvest_repo(client, "acme/widgets", db)}
    assert list(cands) == ["pr-1", "pr-2", "pr-3", "pr-4"]
    one = cands["pr-1"]
    assert [i.number for i in one.issues] == [10] and one.licence == "MIT"
    assert one.statement()[0].startswith("Widget breaks on zero\n\nCalling widget(0)")
    assert one.hints() == "Confirmed on 1.2"  # comments after the PR was opened are left out
    assert one.diff == FIX and one.base_commit == BASE
    assert cands["pr-2"].diff == "diff --git a/README.md b/README.md\n"  # no tests: diff never fetched
    assert not cands["pr-3"].merged and cands["pr-3"].diff == ""
    assert [i.number for i in cands["pr-4"].issues] == [10]
    assert db.get_cursor("github", "acme/widgets") == {"last_pr": 4}


def test_resume_from_cursor_and_pipeline_ledger(
    fake: FakeGitHub, client: GitHubClient, tmp_path: Path
) -> None:
    scripted(fake)
    db = HarvestDB(tmp_path / "h.db")
    first = harvest_repo(client, "acme/widgets", db)
    next(first)
    next(first)  # interrupted after PR 1 is done and PR 2 handed out
    assert db.get_cursor("github", "acme/widgets") == {"last_pr": 1}
    before = len(fake.requests)
    rest = [c.key for c in harvest_repo(client, "acme/widgets", db, use_timeline=False)]
    assert rest == ["pr-2", "pr-3", "pr-4"]
    assert not any("/pulls/1/" in r.path for r in fake.requests[before:])
    report = Harvester(db=db, files_at=GitHubFiles(client), config=FilterConfig()).run(
        harvest_repo(client, "acme/widgets", HarvestDB(tmp_path / "fresh.db"))
    )
    reasons = {e.key: (e.stage, e.reason) for e in report.entries}
    assert reasons == {
        "pr-1": (Stage.env_inferred, Reason.pending),
        "pr-2": (Stage.mined, Reason.no_test_change),
        "pr-3": (Stage.mined, Reason.not_merged),
        "pr-4": (Stage.env_inferred, Reason.pending),
    }
    task = report.tasks[0]
    assert task.instance_id == "acme__widgets-1" and task.envfarm.source.issue_numbers == [10]
    assert task.install_config is not None and task.install_config.python == "3.9"


def test_many_repos_share_one_budget_and_search(
    fake: FakeGitHub, client: GitHubClient, tmp_path: Path
) -> None:
    scripted(fake, "acme/one")
    scripted(fake, "acme/two")
    assert search_repos(client, "language:python stars:>10") == ["acme/one", "acme/two"]
    fake.rate_limit = fake.remaining = 12
    db = HarvestDB(tmp_path / "h.db")
    keys = [(c.repo, c.key) for name in ("acme/one", "acme/two") for c in harvest_repo(client, name, db)]
    assert len(keys) == 8
    assert client.budget.waited_s > 0  # the shared budget ran out and the client waited for the reset


def test_renamed_repository_is_followed(fake: FakeGitHub, client: GitHubClient, tmp_path: Path) -> None:
    scripted(fake, "acme/new-name")
    fake.add_repo(FakeRepo("acme/old-name", moved_to="acme/new-name"))
    cands = list(harvest_repo(client, "acme/old-name", HarvestDB(tmp_path / "h.db"), use_timeline=False))
    assert {c.repo for c in cands} == {"acme/new-name"}
