"""Sample repositories end to end: mine, screen, validate in real sandboxes, compare with expected.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from envfarm.harvest import gitmine
from envfarm.harvest.filters import FilterConfig
from envfarm.harvest.kit import verify_kit
from envfarm.harvest.ledgerdb import HarvestDB
from envfarm.harvest.pipeline import Harvester
from envfarm.harvest.validate import Validator
from envfarm.models.task import SweTask
from envfarm.sandbox.hostenvs import HostVenvEnvs
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.testing.samples import SAMPLES_DIR, build_sample

# sample -> (refs mined, the sandbox's memory limit in MiB). memo's unfixed template code allocates without
# bound: the limit (RLIMIT_AS, and a cgroup where one can be made) must stop it, small enough for CI hosts.
SAMPLES = {"textkit": (["main", "release-1.0"], 1024), "memo": (["main"], 512)}


def env_factory(cache: RepoCache, root: Path, memory_mb: int = 1024):  # type: ignore[no-untyped-def]
    return HostVenvEnvs(cache, root, Limits(wall_time_s=300, memory_mb=memory_mb, nproc=256)).make


def expected_keys(sample: str, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    expected = yaml.safe_load((SAMPLES_DIR / sample / "expected.yaml").read_text())
    out = {}
    for label, want in expected.items():
        key = f"pr-{want['pr']}" if "pr" in want else f"commit-{labels[label][:12]}"
        out[key] = want
    return out


def harvester_for(sample: str, tmp_path: Path) -> tuple[Harvester, Path, str, dict[str, str]]:
    """A harvester validating (3 runs per state) in real sandboxes of the sample, built under tmp_path."""
    repo_dir = tmp_path / sample
    labels = build_sample(sample, repo_dir)
    name = yaml.safe_load((SAMPLES_DIR / sample / "history.yaml").read_text())["repo"]
    cache = RepoCache(tmp_path / "repos")
    cache.add(name, repo_dir)
    envs = env_factory(cache, tmp_path / "ws", memory_mb=SAMPLES[sample][1])
    validator = Validator(envs, verify_kit(), runs=3, timeout_s=120)
    db = HarvestDB(tmp_path / "harvest.db")
    harvester = Harvester(
        db=db, files_at=gitmine.GitFiles(repo_dir), config=FilterConfig(), validate=validator, workers=2
    )
    return harvester, repo_dir, name, labels


def check_accepted(key: str, want: dict[str, Any], task: SweTask) -> None:
    assert sorted(want["FAIL_TO_PASS"]) == task.FAIL_TO_PASS, key
    assert sorted(want["PASS_TO_PASS"]) == task.PASS_TO_PASS, key
    assert task.envfarm.source.statement_from == want["statement_from"], key
    validation = task.envfarm.validation
    assert validation.status == "validated" and validation.runs == 3, key
    assert validation.empty_patch_score == 0.0, key
    flaky = set(want.get("flaky", []))
    assert set(validation.flaky_tests) <= flaky and (validation.flaky_tests or not flaky), key
    assert not flaky & set(task.FAIL_TO_PASS + task.PASS_TO_PASS), key


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_sample_repository_harvest(sample: str, tmp_path: Path) -> None:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    harvester, repo_dir, name, labels = harvester_for(sample, tmp_path)
    issues = gitmine.load_issues(SAMPLES_DIR / sample / "issues.yaml")
    refs = SAMPLES[sample][0]
    report = harvester.run(gitmine.mine(repo_dir, name, refs=refs, issues=issues))
    got = {e.key: e for e in report.entries}
    want = expected_keys(sample, labels)
    assert {k: got[k].reason.value for k in got} == {k: w["reason"] for k, w in want.items()}, got
    tasks = {t.instance_id.rsplit("-", 1)[-1]: t for t in report.tasks}
    for key, w in want.items():
        if w["reason"] == "ok":
            check_accepted(key, w, tasks[key.split("-", 1)[1]])
        elif w.get("flaky"):  # a rejected task names the flaky tests that rejected it
            assert any(t in got[key].detail for t in w["flaky"]), got[key].detail
    rerun = Harvester(db=harvester.db, files_at=harvester.files_at, validate=harvester.validate).run(
        gitmine.mine(repo_dir, name, refs=refs, issues=issues)
    )
    assert rerun.skipped == len(want) and not rerun.entries  # re-running skips what is done
