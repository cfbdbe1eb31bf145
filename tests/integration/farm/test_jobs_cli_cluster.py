"""`envfarm jobs` against a cluster (kubesim, a controller running beside it): submit --wait, list,
status, cancel and delete through --kubeconfig, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from farm_sim import Farm

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]


def envfarm(farm: Farm, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [*ENVFARM, *args, "--kubeconfig", str(farm.tmp / "kubeconfig"), "--namespace", "default"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90)


def manifest(tmp: Path, name: str, seconds: float, group: int) -> Path:
    doc = {
        "apiVersion": "envfarm.dev/v1alpha1",
        "kind": "RolloutJob",
        "metadata": {"name": name},
        "spec": {"tasks": {"ids": ["t"]}, "group_size": group, "agent": {"kind": "hold", "seconds": seconds}},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_submit_wait_list_status_cancel_delete(farm: Farm, tmp_path: Path) -> None:
    with farm.controller():
        done = envfarm(farm, "jobs", "submit", str(manifest(tmp_path, "quick", 0.1, 4)), "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "rolloutjob default/quick created" in done.stdout and "4 succeeded" in done.stdout
        again = envfarm(farm, "jobs", "submit", str(tmp_path / "quick.yaml"))
        assert again.returncode == 2 and "exists already" in again.stderr
        assert envfarm(farm, "jobs", "submit", str(manifest(tmp_path, "long", 60, 2))).returncode == 0
        deadline = time.time() + 30
        while time.time() < deadline and farm.status("long").get("counts", {}).get("running") != 2:
            time.sleep(0.2)
        assert "job long cancelled" in envfarm(farm, "jobs", "cancel", "long").stdout
        farm.wait("long", phase="Cancelled")
        listing = envfarm(farm, "jobs", "list").stdout
        assert "quick" in listing and "Succeeded" in listing and "Cancelled" in listing
        status = json.loads(envfarm(farm, "jobs", "status", "quick", "--json").stdout)["status"]
        assert status["counts"]["succeeded"] == 4
        assert "job quick deleted" in envfarm(farm, "jobs", "delete", "quick").stdout
    missing = envfarm(farm, "jobs", "status", "quick")
    assert missing.returncode == 2 and "no RolloutJob default/quick" in missing.stderr
