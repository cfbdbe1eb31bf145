"""`envfarm harvest git|github|funnel` through the real Typer app (in process, CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from test_github_source import scripted
from typer.testing import CliRunner, Result

from envfarm.cli.app import app
from envfarm.errors import ConfigError
from envfarm.models.task import SweTask
from envfarm.sandbox.local import find_bwrap
from envfarm.store.tasks import TaskStore
from envfarm.testing.fake_github import FakeGitHub
from envfarm.testing.samples import SAMPLES_DIR, build_sample

TOKEN = "ghp_CLITOKEN0123456789"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def funnel(home: Path) -> dict[tuple[str, str], int]:
    data = json.loads(invoke("harvest", "funnel", "--json", "--home", str(home)).stdout)
    return {(row["stage"], row["reason"]): row["count"] for row in data["rows"]}


def stored(home: Path) -> dict[str, SweTask]:
    with TaskStore(home / "tasks.db") as store:
        return {t.instance_id: t for t in store.iter_tasks() if isinstance(t, SweTask)}


def test_harvest_git_validates_stores_and_skips_what_is_done(tmp_path: Path) -> None:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    labels = build_sample("textkit", tmp_path / "textkit")
    home = tmp_path / "home"
    args = ["harvest", "git", str(tmp_path / "textkit"), "--name", "envfarm-samples/textkit",
            "--ref", "release-1.0", "--issues", str(SAMPLES_DIR / "textkit" / "issues.yaml"),
            "--runs", "1", "--workers", "1", "--home", str(home)]  # fmt: skip
    first = invoke(*args)
    assert "2 candidates, 0 already done, 1 tasks stored" in first.output
    task = stored(home)[f"envfarm-samples__textkit-{labels['backport-1'][:12]}"]
    assert task.FAIL_TO_PASS == [
        "tests/test_words.py::test_count_empty",
        "tests/test_words.py::test_count_newlines",
    ]
    assert task.envfarm.validation.status == "validated" and task.envfarm.validation.runs == 1
    assert task.envfarm.source.issue_numbers == [1]
    assert funnel(home) == {("mined", "no_test_change"): 1, ("accepted", "ok"): 1}
    again = invoke(*args)
    assert "2 candidates, 2 already done, 0 tasks stored" in again.output


def test_harvest_github_against_the_fake_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    repos_file = tmp_path / "repos.txt"
    repos_file.write_text("# one repository a line\nacme/widgets  # the scripted one\n")
    with FakeGitHub() as fake:
        scripted(fake)
        args = ["harvest", "github", "--repos-file", str(repos_file), "--base-url", fake.base_url,
                "--home", str(home)]  # fmt: skip
        first = invoke(*args, env={"GITHUB_TOKEN": TOKEN})
        assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in fake.requests)
        again = invoke(*args, env={"GITHUB_TOKEN": TOKEN})
    assert "4 candidates, 0 already done, 2 tasks stored" in first.output
    assert "0 tasks stored" in again.output  # the saved cursor resumes after the last PR
    assert TOKEN not in first.output + again.output
    assert set(stored(home)) == {"acme__widgets-1", "acme__widgets-4"}
    assert funnel(home) == {
        ("mined", "no_test_change"): 1,
        ("mined", "not_merged"): 1,
        ("env_inferred", "pending"): 2,
    }
    with TaskStore(home / "tasks.db") as store:
        assert TOKEN not in json.dumps([t.model_dump(mode="json") for t in store.iter_tasks()])


def test_harvest_funnel_table_and_github_without_repositories(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    table = invoke("harvest", "funnel", "--home", home)
    assert "harvest funnel (0 candidates" in table.stdout
    with (
        mock.patch.dict("os.environ", {"GITHUB_TOKEN": TOKEN}),
        pytest.raises(ConfigError, match="--repos-file"),
    ):
        CliRunner().invoke(app, ["harvest", "github", "--home", home], catch_exceptions=False)
