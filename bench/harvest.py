"""Harvest benchmark: mining speed on a synthetic history, and validation overhead versus running by hand.

Last line: {"candidates_per_s": ..., "validation_ratio_vs_manual": ...}
- candidates_per_s: candidates mined, screened, split and env-inferred per second (ledger writes included)
  on a synthetic history of 5,000 commits (--smoke: 500).
- validation_ratio_vs_manual: wall time of the harvester validating the textkit sample's tasks (three
  states, N runs each, in bubblewrap sandboxes) over running the same states by hand in a plain checkout
  (git apply + the same pytest command N times each). Null when bubblewrap is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envfarm.cli.harvest import verify_kit
from envfarm.harvest import gitmine
from envfarm.harvest.ledgerdb import HarvestDB
from envfarm.harvest.pipeline import Harvester
from envfarm.harvest.synthetic import make_history
from envfarm.harvest.validate import Validator
from envfarm.models.task import SweTask
from envfarm.sandbox.hostenvs import VENV, HostVenvEnvs
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import find_bwrap
from envfarm.sandbox.repos import RepoCache
from envfarm.testing.samples import SAMPLES_DIR, build_sample
from envfarm.verify import command


def mining(root: Path, commits: int) -> float:
    repo = make_history(root / "synthetic", commits)
    started = time.perf_counter()
    harvester = Harvester(db=HarvestDB(root / "mine.db"), files_at=gitmine.GitFiles(repo), validate=None)
    report = harvester.run(gitmine.mine(repo, "synthetic/repo"))
    return report.seen / (time.perf_counter() - started)


def sample_tasks(root: Path) -> tuple[list[SweTask], RepoCache, Path]:
    repo = root / "textkit"
    build_sample("textkit", repo)
    cache = RepoCache(root / "repos")
    cache.add("envfarm-samples/textkit", repo)
    issues = gitmine.load_issues(SAMPLES_DIR / "textkit" / "issues.yaml")
    harvester = Harvester(db=HarvestDB(root / "screen.db"), files_at=gitmine.GitFiles(repo), validate=None)
    report = harvester.run(gitmine.mine(repo, "envfarm-samples/textkit", refs=["main"], issues=issues))
    return report.tasks, cache, repo


def validate_all(tasks: list[SweTask], cache: RepoCache, root: Path, runs: int) -> float:
    fresh = HostVenvEnvs(cache, root / "ws", Limits(wall_time_s=300, memory_mb=1024, nproc=256)).make

    validator = Validator(fresh, verify_kit(), runs=runs, timeout_s=120)
    started = time.perf_counter()
    for task in tasks:
        validator(task)
    return time.perf_counter() - started


def by_hand(tasks: list[SweTask], repo: Path, root: Path, runs: int) -> float:
    """The same three states in a plain clone: checkout, git apply, the same pytest command N times."""
    clone = root / "manual"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    env = {**os.environ, **command.run_env(tasks[0]), "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    started = time.perf_counter()
    for task in tasks:
        files = " ".join(shlex.quote(f) for f in command.test_files(task.test_patch))
        states = [("", ""), (task.test_patch, ""), (task.test_patch, task.patch)]
        for test_patch, gold in states:
            sh(clone, f"git checkout -q -f {task.base_commit} && git clean -qfd", env)
            for patch in (test_patch, gold):
                if patch:
                    subprocess.run(["git", "-C", str(clone), "apply", "-"], input=patch.encode(), check=True)
            for _ in range(runs):
                sh(clone, f"{command.base_command(task)} {files} > /dev/null 2>&1 || true", env)
    return time.perf_counter() - started


def sh(cwd: Path, script: str, env: dict[str, str]) -> None:
    subprocess.run(["bash", "-c", script], cwd=cwd, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, for CI")
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    commits, runs = (500, 1) if args.smoke else (args.commits, args.runs)
    with tempfile.TemporaryDirectory(prefix="envfarm-bench-harvest-") as tmp:
        root = Path(tmp)
        rate = mining(root, commits)
        print(f"mining: {rate:.0f} candidates/s over {commits} commits", file=sys.stderr)
        ratio = None
        if find_bwrap() is not None:
            tasks, cache, repo = sample_tasks(root)
            harvested = validate_all(tasks, cache, root, runs)
            manual = by_hand(tasks, repo, root, runs)
            ratio = round(harvested / manual, 3)
            print(f"validation: {harvested:.2f}s harvester vs {manual:.2f}s by hand", file=sys.stderr)
    print(json.dumps({"candidates_per_s": round(rate, 1), "validation_ratio_vs_manual": ratio,
                      "commits": commits, "runs_per_state": runs}))  # fmt: skip


if __name__ == "__main__":
    main()
