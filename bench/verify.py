"""Benchmark: the test verifier's wall time against the raw test command in the same environment.

A synthetic task (a repository whose suite does real CPU work, like a typical SWE task's test files) is
verified with its gold patch in fresh bubblewrap environments. "Raw" is the task's own test command run by
exec in an environment already holding the gold patch and the test_patch; "verifier" is everything a
verification does: fresh environment, patch, restore, test_patch, run with a JUnit report, parse, grade.
The last line printed is one JSON object; ``ratio_vs_raw_reruns3`` compares 3 reruns with 3 raw runs.

    python bench/verify.py [--smoke] [--tests N] [--repeat K]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from envfarm.models.task import InstallConfig, SweTask
from envfarm.sandbox.hostenvs import HostVenvEnvs
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.verify import command, scripts
from envfarm.verify.tests import TestVerifier, VerifyOptions

TEST_FILE = """import pytest
from pkg.mod import work


@pytest.mark.parametrize("n", range({count}))
def test_work(n):
    assert work(n) == sum(i * i for i in range(n + {size}))
"""
MOD_BUGGY = "def work(n):\n    return sum(i * i for i in range(n + {size} - 1))\n"
MOD_FIXED = "def work(n):\n    return sum(i * i for i in range(n + {size}))\n"


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    return subprocess.run(
        ["git", "-C", str(cwd), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def diff_of(repo: Path, edits: dict[str, str]) -> str:
    for rel, text in edits.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    out = git(repo, "diff", "--cached")
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    return out


def make_task(root: Path, tests: int, size: int) -> tuple[SweTask, Path]:
    repo = root / "src"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text('[tool.pytest.ini_options]\npythonpath = ["src"]\n')
    (repo / "src/pkg").mkdir(parents=True)
    (repo / "src/pkg/__init__.py").write_text("")
    (repo / "src/pkg/mod.py").write_text(MOD_BUGGY.format(size=size))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    gold = diff_of(repo, {"src/pkg/mod.py": MOD_FIXED.format(size=size)})
    test_patch = diff_of(repo, {"tests/test_work.py": TEST_FILE.format(count=tests, size=size)})
    ids = [f"tests/test_work.py::test_work[{n}]" for n in range(tests)]
    task = SweTask(
        instance_id="bench__verify-1",
        repo="bench/verify",
        base_commit=base,
        patch=gold,
        test_patch=test_patch,
        problem_statement="work() is off by one",
        FAIL_TO_PASS=ids,
        PASS_TO_PASS=[],
        install_config=InstallConfig(
            test_cmd="pytest -rA -p no:cacheprovider", log_parser="parse_log_pytest"
        ),
    )
    return task, repo


async def timed_raw(env: Sandbox, task: SweTask) -> float:
    """The task's own test command, in an environment already holding the gold patch and the test_patch."""
    t0 = time.perf_counter()
    res = await env.exec(command.test_command(task), env=command.run_env(task), timeout_s=600)
    elapsed = time.perf_counter() - t0
    assert res.exit_code == 0, res.stdout[-2000:]
    return elapsed


async def timed_verify(verifier: TestVerifier, task: SweTask) -> float:
    t0 = time.perf_counter()
    verdict = await verifier.verify(task, task.patch)
    elapsed = time.perf_counter() - t0
    assert verdict.outcome == "pass", verdict
    return elapsed


async def measure(envs: HostVenvEnvs, task: SweTask, artifacts: Path, repeat: int) -> dict[str, list[float]]:
    """Raw runs, single and 3-rerun verifications, interleaved so that machine noise hits all alike."""
    one = TestVerifier(envs, artifacts, VerifyOptions(reruns=1))
    three = TestVerifier(envs, artifacts, VerifyOptions(reruns=3))
    env = await envs.up(task)
    times: dict[str, list[float]] = {"raw": [], "verify": [], "verify3": []}
    try:
        prep = await env.exec(scripts.prepare(task.patch, task.test_patch, task.base_commit))
        assert prep.exit_code == 0, prep.stderr
        await timed_raw(env, task)  # warm-up: page cache, snapshot
        for _ in range(repeat):
            times["raw"].append(await timed_raw(env, task))
            times["verify"].append(await timed_verify(one, task))
            times["verify3"].append(await timed_verify(three, task))
    finally:
        await envs.down(env)
    return times


async def main(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="envfarm-bench-verify-") as tmp:
        root = Path(tmp)
        task, repo = make_task(root, args.tests, args.size)
        cache = RepoCache(root / "repos")
        cache.add(task.repo, repo)
        times = await measure(HostVenvEnvs(cache, root / "ws"), task, root / "artifacts", args.repeat)
    raw, verified, verified3 = (statistics.median(times[k]) for k in ("raw", "verify", "verify3"))
    print(f"tests={args.tests} raw={raw:.3f}s verifier={verified:.3f}s verifier_reruns3={verified3:.3f}s")
    return {
        "ratio_vs_raw": round(verified / raw, 3),
        "ratio_vs_raw_reruns3": round(verified3 / (3 * raw), 3),
        "raw_s": round(raw, 3),
        "verifier_s": round(verified, 3),
        "verifier_reruns3_s": round(verified3, 3),
        "overhead_s": round(verified - raw, 3),
        "tests": args.tests,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition (CI)")
    parser.add_argument("--tests", type=int, default=400, help="parametrised tests in the suite")
    parser.add_argument("--size", type=int, default=20000, help="work per test (loop length)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (median is reported)")
    args = parser.parse_args()
    if args.smoke:
        args.tests, args.size, args.repeat = 20, 1000, 1
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_args()))))
