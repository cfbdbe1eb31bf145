"""The local backend as a user runs it: `envfarm jobs submit` replays the calc sample's gold and empty
patches in real bubblewrap envs; env start failures are infrastructure failures; cancel from another
process ends a running job and removes its envs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from farm_home import CALC

from envfarm.farm.agents import builtin_runners
from envfarm.farm.local import LocalCluster
from envfarm.farm.localjobs import LocalJobs
from envfarm.farm.localrun import run_local
from envfarm.farm.tasks import StoreTasks
from envfarm.models.job import RolloutJob
from envfarm.sandbox.envs import EnvManager
from envfarm.settings import Settings

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]


def manifest(tmp: Path, name: str, **spec: Any) -> Path:
    body = {
        "apiVersion": "envfarm.dev/v1alpha1",
        "kind": "RolloutJob",
        "metadata": {"name": name},
        "spec": {"tasks": {"ids": [CALC]}, **spec},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def envfarm(home: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVFARM_HOME": str(home.home), "COLUMNS": "200"}
    return subprocess.run([*ENVFARM, *args], env=env, capture_output=True, text=True, timeout=120)


def status(home: Settings, name: str) -> dict[str, Any]:
    done = envfarm(home, "jobs", "status", name, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)["status"])


def results(home: Settings, name: str) -> list[dict[str, Any]]:
    """`envfarm jobs results NAME`: one JSON line per finished sample."""
    done = envfarm(home, "jobs", "results", name)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_submit_replays_gold_and_empty_patches(local_home: Settings, tmp_path: Path) -> None:
    replay = {"kind": "replay", "patches": "gold"}
    gold = envfarm(local_home, "jobs", "submit", str(manifest(tmp_path, "gold", group_size=2, agent=replay)))
    assert gold.returncode == 0, gold.stdout + gold.stderr
    replay["patches"] = "empty"
    empty = envfarm(local_home, "jobs", "submit", str(manifest(tmp_path, "empty", agent=replay)))
    assert empty.returncode == 0, empty.stdout + empty.stderr
    got = status(local_home, "gold")
    assert got["phase"] == "Succeeded" and got["setup_yield"] == 1.0
    assert got["outcomes"] == {"pass": "0-1"} and [r["outcome"] for r in got["results"]] == ["pass", "pass"]
    assert [(r["task_id"], r["sample"], r["outcome"], r["reward"]) for r in results(local_home, "gold")] == [
        (CALC, 0, "pass", 1.0),
        (CALC, 1, "pass", 1.0),
    ]
    assert [r["outcome"] for r in results(local_home, "empty")] == ["fail"]
    shown = envfarm(local_home, "jobs", "status", "empty").stdout
    assert "Succeeded" in shown and "fail" in shown
    listing = envfarm(local_home, "jobs", "list").stdout
    assert "gold" in listing and "empty" in listing and "Succeeded" in listing
    again = envfarm(local_home, "jobs", "submit", str(tmp_path / "gold.yaml"))
    assert again.returncode == 2 and "finished already" in again.stderr
    assert not list(local_home.envs_dir.iterdir()), "every env was removed"


def test_env_start_failure_is_an_infra_error_never_a_task_failure(
    tmp_path: Path, local_home: Settings
) -> None:
    settings = Settings(home=tmp_path / "bare")  # the task store of local_home, but no repository cache
    os.makedirs(settings.home)
    os.symlink(local_home.task_db, settings.task_db)
    job = RolloutJob.model_validate(
        {"name": "nocache", "spec": {"tasks": {"ids": [CALC]}, "retries": 1, "retry_backoff_s": 0}}
    )
    store = LocalJobs(settings.home / "jobs")
    store.create(job)
    tasks = StoreTasks(settings)
    cluster = LocalCluster(store, tasks, EnvManager(settings))
    runners = builtin_runners(tasks, settings.artifacts_dir)
    last = asyncio.run(run_local(cluster, runners, tasks, ["nocache"], poll_s=0.05))["nocache"]
    assert last is not None
    got = last["status"]
    assert got["counts"]["infra_errors"] == 1 and got["counts"]["failed"] == 0
    assert got["infra_failures"] == {"image_pull": 2} and got["setup"] == {"attempted": 2, "up": 0}
    assert got["outcomes"] == {"infra_error": "0"}
    [result] = store.results("nocache")
    assert result.outcome == "infra_error" and "not cached" in result.reason
    reasons = [e["reason"] for e in store.events("nocache")]
    assert reasons[0] == "Started" and "InfraFailure" in reasons


def test_cancel_from_another_process_ends_the_job_and_its_envs(local_home: Settings, tmp_path: Path) -> None:
    path = manifest(tmp_path, "holding", group_size=2, agent={"kind": "hold", "seconds": 60})
    env = {**os.environ, "ENVFARM_HOME": str(local_home.home)}
    runner = subprocess.Popen(
        [*ENVFARM, "jobs", "submit", str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 60
        while (
            time.time() < deadline
            and status_or_none(local_home, "holding").get("counts", {}).get("running") != 2
        ):
            time.sleep(0.2)
        assert status(local_home, "holding")["counts"]["running"] == 2
        done = envfarm(local_home, "jobs", "cancel", "holding")
        assert done.returncode == 0 and "cancelled" in done.stdout
        out, _ = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 1 and "Cancelled" in out
    assert status(local_home, "holding")["phase"] == "Cancelled"
    assert not list(local_home.envs_dir.iterdir()), "the held envs were removed"


def status_or_none(home: Settings, name: str) -> dict[str, Any]:
    path = home.home / "jobs" / f"{name}.json"
    try:
        return dict(json.loads(path.read_text()).get("status") or {})
    except (OSError, ValueError):
        return {}
