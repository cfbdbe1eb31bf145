"""`envfarm rollout run | show | export` as a user runs them: real processes, a real task store, the
EnvManager building the sample's venv, bubblewrap environments, the test verifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from agent_envs import BUGGY_RETURN, CALC, FIXED_RETURN, STATS, sample_tasks

from envfarm.sandbox.local import find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.settings import Settings
from envfarm.store.tasks import TaskStore
from envfarm.testing.samples import build_sample

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]
JOB = """apiVersion: envfarm.dev/v1alpha1
kind: RolloutJob
metadata: {name: calc-scripted}
spec:
  tasks: {ids: [envfarm-samples__calc-3]}
  group_size: 2
  concurrency: 2
  agent: {kind: policy, backend: scripted, script: script.yaml, command_timeout_s: 60}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if find_bwrap() is None:
        pytest.skip("bubblewrap is not installed (pip install 'envfarm[sandbox]')")
    settings = Settings.from_env(tmp_path / "home").ensure()
    build_sample("calc", tmp_path / "calc-src")
    RepoCache(settings.repos_dir).add("envfarm-samples/calc", tmp_path / "calc-src")
    with TaskStore(settings.task_db) as store:
        for task in sample_tasks().values():
            store.upsert(task)
    steps = [
        {"edit": {"command": "view", "path": STATS}},
        {"edit": {"command": "str_replace", "path": STATS, "old_str": BUGGY_RETURN, "new_str": FIXED_RETURN}},
        {"tool": "bash", "arguments": "{broken"},
        {"submit": True},
    ]
    (tmp_path / "script.yaml").write_text(json.dumps(steps))  # JSON is YAML
    (tmp_path / "job.yaml").write_text(JOB)
    return settings.home


def envfarm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVFARM_HOME": str(home)}
    return subprocess.run([*ENVFARM, *args], env=env, capture_output=True, text=True, timeout=240)


def test_rollout_run_show_export(home: Path, tmp_path: Path) -> None:
    done = envfarm(home, "rollout", "run", str(tmp_path / "job.yaml"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["groups_completed"] == 1 and summary["outcomes"] == {"pass": 2}
    shown = envfarm(home, "rollout", "show", f"calc-scripted.{CALC}.1")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "pass reward 1.0" in out and "stop submitted, 4 steps" in out
    assert "malformed" in out and "not valid JSON" in out and "+    middle = len(ordered) // 2" in out
    exported = envfarm(home, "rollout", "export", str(tmp_path / "r.parquet"), "--job", "calc-scripted")
    assert exported.returncode == 0 and "2 records" in exported.stdout
    rows = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert sorted(r["sample_idx"] for r in rows) == [0, 1] and {r["outcome"] for r in rows} == {"pass"}


def test_bad_job_and_unknown_rollout_are_clear_errors(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("metadata: {name: Bad_Name}\nspec: {group_size: 0}\n")
    done = envfarm(home, "rollout", "run", str(tmp_path / "bad.yaml"))
    assert done.returncode == 2 and "bad.yaml" in done.stderr and "name" in done.stderr
    key = tmp_path / "key.yaml"
    key.write_text("metadata: {name: k}\nspec: {agent: {kind: policy, api_key: sk-secret}}\n")
    done = envfarm(home, "rollout", "run", str(key))
    assert done.returncode == 2 and "api_key" in done.stderr and "sk-secret" not in done.stderr
    missing = envfarm(home, "rollout", "show", "nope.nope.0")
    assert missing.returncode == 2 and "nope.nope.0" in missing.stderr
