"""`envfarm verify` as a user runs it: a real process, a real task store, exit codes by outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from verify_envs import sample_tasks

from envfarm.store.tasks import TaskStore

ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with TaskStore(tmp_path / "tasks.db") as store:
        for task in sample_tasks().values():
            store.upsert(task)
    return tmp_path


def envfarm(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVFARM_HOME": str(home)}
    return subprocess.run(
        [*ENVFARM, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_unknown_task_is_a_clear_error_exit_2(home: Path, tmp_path: Path) -> None:
    (tmp_path / "p.diff").write_text("")
    done = envfarm(home, "verify", "nope__nope-1", "--patch", str(tmp_path / "p.diff"))
    assert done.returncode == 2 and "nope__nope-1" in done.stderr


def test_unsafe_patch_from_stdin_is_invalid_exit_6(home: Path) -> None:
    patch = "--- a/../evil.py\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+import os\n"
    done = envfarm(home, "verify", "envfarm-samples__calc-3", "--patch", "-", "--json", stdin=patch)
    verdict = json.loads(done.stdout)
    assert done.returncode == 6 and verdict["outcome"] == "invalid" and "unsafe_path" in verdict["hack_flags"]


def test_repository_not_cached_is_infra_error_exit_5(home: Path, tmp_path: Path) -> None:
    (tmp_path / "p.diff").write_text("")
    done = envfarm(home, "verify", "envfarm-samples__calc-3", "--patch", str(tmp_path / "p.diff"))
    assert done.returncode == 5, done.stdout + done.stderr
    assert "infra_error" in done.stdout and "envfarm repos add envfarm-samples/calc" in done.stdout
    assert "reward none" in done.stdout
