"""The GitHub client against the fake server: real recorded exchanges and scripted ones."""

from __future__ import annotations

import logging

import pytest

from envfarm.errors import GitHubError, RateLimited
from envfarm.harvest.ghclient import GitHubClient, RateBudget
from envfarm.testing.fake_github import FakeClock, FakeGitHub, Reply, json_reply
from envfarm.testing.fake_github_repo import FakeRepo


def test_recorded_pagination_follows_link_headers(client: GitHubClient, fake: FakeGitHub) -> None:
    issues = list(client.paginate("/repos/octokit-fixture-org/paginate-issues/issues", {"per_page": 3}))
    assert [i["number"] for i in issues] == list(range(13, 0, -1))
    assert [r.path.split("?")[0] for r in fake.requests][1:] == ["/repositories/1000/issues"] * 4


def test_recorded_301_redirect_of_a_renamed_repository(client: GitHubClient) -> None:
    repo = client.get_json("/repos/octokit-fixture-org/rename-repository")
    assert repo["full_name"] == "octokit-fixture-org/rename-repository-newname"


def test_recorded_pull_request_diff_media_type_and_json(client: GitHubClient) -> None:
    pr = client.get_json("/repos/sigmavirus24/github3.py/pulls/235")
    diff = client.get_text("/repos/sigmavirus24/github3.py/pulls/235")
    assert pr["number"] == 235
    assert diff.startswith("diff --git a/github3/repos/release.py")


def test_recorded_issue_comments_and_search(client: GitHubClient) -> None:
    comments = list(client.paginate("/repos/sigmavirus24/github3.py/issues/187/comments"))
    assert comments and all("body" in c for c in comments)
    found = list(client.paginate("/search/issues", {"q": "github3 label:Bug"}))
    assert found and all("number" in item for item in found)


def test_etag_makes_the_second_request_a_304(client: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo("o/r"))
    first = client.get_json("/repos/o/r")
    remaining = fake.remaining
    second = client.get_json("/repos/o/r")
    assert first == second
    assert fake.requests[-1].headers.get("if-none-match")
    assert fake.remaining == remaining  # a 304 costs no rate limit


def test_primary_rate_limit_waits_until_reset(fake: FakeGitHub, clock: FakeClock) -> None:
    fake.add_repo(FakeRepo("o/r"))
    fake.rate_limit = fake.remaining = 2
    gh = GitHubClient(fake.base_url, token="", budget=RateBudget(clock.time, clock.sleep))
    start = clock.now
    for n in range(4):
        gh.get_json("/repos/o/r", {"n": n})
    assert clock.now - start >= 3000  # waited for the reset, instead of failing
    assert fake.remaining >= 0


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_honours_retry_after(
    client: GitHubClient, fake: FakeGitHub, clock: FakeClock, status: int
) -> None:
    fake.add_repo(FakeRepo("o/r"))
    fake.secondary_limit("/repos/o/r", retry_after=42, status=status)
    assert client.get_json("/repos/o/r")["full_name"] == "o/r"
    assert clock.slept == [42.0]


def test_rate_limit_gives_up_after_max_retries(fake: FakeGitHub, clock: FakeClock) -> None:
    fake.add_repo(FakeRepo("o/r"))
    fake.secondary_limit("/repos/o/r", retry_after=5)
    fake.secondary_limit("/repos/o/r", retry_after=5)
    gh = GitHubClient(fake.base_url, token="", budget=RateBudget(clock.time, clock.sleep), max_retries=1)
    with pytest.raises(RateLimited) as info:
        gh.get_json("/repos/o/r")
    assert info.value.wait_s == 5.0 and info.value.status == 403


def test_server_errors_are_retried_then_succeed(client: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo("o/r"))
    fake.inject("/repos/o/r", json_reply({"message": "Server Error"}, 500), times=2)
    assert client.get_json("/repos/o/r")["full_name"] == "o/r"


def test_errors_are_typed_and_name_the_path(client: GitHubClient) -> None:
    with pytest.raises(GitHubError) as info:
        client.get_json("/repos/nobody/nothing")
    assert info.value.status == 404 and "/repos/nobody/nothing" in str(info.value)


def test_recorded_422_validation_error(fake: FakeGitHub, client: GitHubClient) -> None:
    key = next(k for k in fake.recorded if k[1] == "/repos/octokit-fixture-org/errors/labels")
    reply = fake.recorded[key][0]
    fake.inject("/repos/octokit-fixture-org/errors", Reply(reply.status, reply.body, reply.headers))
    with pytest.raises(GitHubError) as info:
        client.get_json("/repos/octokit-fixture-org/errors/labels")
    assert info.value.status == 422 and "Validation Failed" in str(info.value)


def test_307_redirect_is_followed(client: GitHubClient, fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo("o/r"))
    fake.inject("/repos/o/old", Reply(307, b"", {"location": "https://api.github.com/repos/o/r"}))
    assert client.get_json("/repos/o/old")["full_name"] == "o/r"


def test_token_is_sent_but_never_logged_or_shown(
    client: GitHubClient, fake: FakeGitHub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add_repo(FakeRepo("o/r"))
    fake.secondary_limit("/repos/o/r", retry_after=1)
    client.get_json("/repos/o/r")
    with pytest.raises(GitHubError) as info:
        client.get_json("/repos/o/missing")
    assert fake.requests[-1].headers["authorization"] == "Bearer ghp_SECRETTOKEN123"
    shown = caplog.text + str(info.value) + repr(info.value) + repr(client) + str(vars(client))
    assert "SECRETTOKEN" not in shown
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_FROMENV")
    from_env = GitHubClient(fake.base_url)
    from_env.get_json("/repos/o/r")
    assert fake.requests[-1].headers["authorization"] == "Bearer ghp_FROMENV"
    from_env.close()


def test_enterprise_base_url_with_path_prefix(clock: FakeClock) -> None:
    server = FakeGitHub(clock=clock.time, prefix="/api/v3")
    repo = server.add_repo(FakeRepo("o/r"))
    for n in range(1, 6):
        repo.add_issue(n, f"issue {n}")
    with server:
        assert server.base_url.endswith("/api/v3")
        gh = GitHubClient(server.base_url + "/", token="")
        assert gh.get_json("/repos/o/r")["full_name"] == "o/r"
        assert [i["number"] for i in gh.paginate("/repos/o/r/issues", {"per_page": 2})] == [1, 2, 3, 4, 5]
        assert all(r.path.startswith("/repos/o/r") for r in server.requests)
        gh.close()
