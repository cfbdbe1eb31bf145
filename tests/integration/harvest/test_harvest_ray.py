"""`envfarm harvest git --ray`: validations run as Ray tasks on an embedded local Ray, same results."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_harvest_cli import funnel, invoke, stored

from envfarm.sandbox.local import find_bwrap
from envfarm.testing.samples import SAMPLES_DIR, build_sample

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'envfarm[ray]')")


@pytest.fixture
def ray_on_loopback(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    yield None
    ray.shutdown()


def test_harvest_git_with_ray_gives_the_local_results(tmp_path: Path, ray_on_loopback: object) -> None:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    labels = build_sample("textkit", tmp_path / "textkit")
    home = tmp_path / "home"
    result = invoke(
        "harvest", "git", str(tmp_path / "textkit"), "--name", "envfarm-samples/textkit",
        "--ref", "release-1.0", "--issues", str(SAMPLES_DIR / "textkit" / "issues.yaml"),
        "--runs", "1", "--workers", "1", "--ray", "--home", str(home),
    )  # fmt: skip
    assert "2 candidates, 0 already done, 1 tasks stored" in result.output
    assert ray.is_initialized()
    task = stored(home)[f"envfarm-samples__textkit-{labels['backport-1'][:12]}"]
    assert task.FAIL_TO_PASS == [
        "tests/test_words.py::test_count_empty",
        "tests/test_words.py::test_count_newlines",
    ]
    assert funnel(home) == {("mined", "no_test_change"): 1, ("accepted", "ok"): 1}
