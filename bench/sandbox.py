"""Local environment start-up: start to first command over N environments from a warm cache.

Prints, as its last line, one JSON object: first_command_p50_ms, first_command_p99_ms (workspace checkout +
sandbox + runtime + first exec), ratio_vs_subprocess (that p50 over the same command by plain
subprocess.run), exec_overhead_ratio (exec round trip in a running env over direct subprocess) and
idle_env_rss_mb (resident memory of an idle environment's processes). ``--smoke`` runs a few envs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envfarm.models import SweTask, parse_task
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.local import LocalSandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.settings import Settings
from envfarm.testing.samples import SAMPLES_DIR, build_sample

CMD = ["true"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def subprocess_ms(n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(CMD, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * 4096
    todo, total = [root_pid], 0
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total / 1024 / 1024


async def first_command(manager: EnvManager, task: SweTask) -> tuple[float, LocalSandbox]:
    start = time.perf_counter()
    box = await manager.up(task)
    res = await box.exec(CMD)
    elapsed = (time.perf_counter() - start) * 1000
    assert res.exit_code == 0, res
    return elapsed, box


async def exec_ratio(box: LocalSandbox, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await box.exec(CMD)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times) / subprocess_ms(n)


async def main(envs: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="envfarm-bench-"))
    try:
        return await measure(root, envs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def measure(root: Path, envs: int) -> dict[str, float]:
    build_sample("calc", root / "calc")
    settings = Settings.from_env(root / "home")
    RepoCache(settings.repos_dir).add("envfarm-samples/calc", root / "calc")
    task = parse_task(json.loads((SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()[0]))
    assert isinstance(task, SweTask)
    manager = EnvManager(settings)
    warm, box = await first_command(manager, task)  # warms the venv and snapshot caches
    print(f"warm-up (cache fill) {warm:.0f} ms", file=sys.stderr)
    await manager.down(box)
    times = []
    for _ in range(envs):
        elapsed, box = await first_command(manager, task)
        times.append(elapsed)
        await manager.down(box)
    elapsed, box = await first_command(manager, task)
    await asyncio.sleep(0.2)
    assert box.proc is not None
    idle = rss_mb(box.proc.pid)
    ratio = await exec_ratio(box, 50)
    await manager.down(box)
    p50 = statistics.median(times)
    return {
        "envs": envs,
        "first_command_p50_ms": round(p50, 1),
        "first_command_p99_ms": round(percentile(times, 0.99), 1),
        "ratio_vs_subprocess": round(p50 / subprocess_ms(50), 1),
        "exec_overhead_ratio": round(ratio, 2),
        "idle_env_rss_mb": round(idle, 1),
        "target_p50_ms": 100,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few environments (CI)")
    parser.add_argument("--envs", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(3 if args.smoke else args.envs))))
