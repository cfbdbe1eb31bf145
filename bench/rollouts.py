"""Benchmark: the rollout driver's own cost per agent step, and its throughput at 1,000 concurrent rollouts.

Both figures use envfarm's in-process environment (``envfarm.agent.memory_env``: files in a dict, commands
answered at once) instead of bubblewrap sandboxes, so that 1,000 rollouts fit in one process on a 2-core
machine and neither command time nor sandbox start-up enters the measurement; verification is the
in-process ``PatchVerifier``. What is measured is everything else the driver does per step: the agent loop,
tool-call parsing, the file editor or bash tool, observations, turn records, token bookkeeping, grouping,
re-dispatch bookkeeping and record building.

- ``overhead_ms_per_step``: a scripted policy with no latency, commands that take no time: wall time per
  agent step of the whole driver (target <= 5 ms).
- ``ratio_to_ideal_1000``: a fake policy with a fixed 1 s latency, 1,000 rollouts at once (concurrency
  1,000): achieved steps per second over the ideal (every rollout steps once a second), target >= 0.9.

    python bench/rollouts.py [--smoke]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from envfarm.agent.driver import RolloutDriver
from envfarm.agent.memory_env import MemoryEnvs, PatchVerifier
from envfarm.agent.scripted import Reply, ScriptedPolicy, bash, edit, submit
from envfarm.models.job import PolicyAgent, RolloutJob, RolloutJobSpec
from envfarm.models.task import SweTask

DIFF = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n"
FILES = {
    "src/calc/stats.py": "def median(values):\n    ordered = sorted(values)\n    return ordered[0]\n" * 20
}


def tasks(count: int) -> list[SweTask]:
    return [
        SweTask(
            instance_id=f"bench__repo-{i}",
            repo="bench/repo",
            base_commit="abcdef0",
            patch=DIFF,
            test_patch="",
            problem_statement="median() is wrong for even-length lists",
        )
        for i in range(count)
    ]


def script(steps: int) -> list[Reply]:
    """A realistic mix: views, searches, an edit, a test run; ``steps`` policy calls, the last one submits."""
    cycle = [
        edit(command="view", path="src/calc/stats.py"),
        bash("grep -n median -r src"),
        edit(command="str_replace", path="src/calc/stats.py", old_str="ordered[0]", new_str="ordered[0] "),
        bash("python -m pytest -q"),
    ]
    body = [cycle[i % len(cycle)] for i in range(steps - 1)]
    return [*body, submit()]


def job(rollouts: int, group_size: int, steps: int) -> RolloutJob:
    agent = PolicyAgent(backend="scripted", max_steps=steps + 1, wall_time_s=3600)
    spec = RolloutJobSpec(group_size=group_size, concurrency=rollouts, retries=0, timeout_s=3600, agent=agent)
    return RolloutJob(name="bench", spec=spec)


async def drive(rollouts: int, group_size: int, steps: int, latency_s: float) -> tuple[float, int]:
    """Wall time and agent steps of one driver run."""
    policy = ScriptedPolicy(script(steps), latency_s=latency_s)
    driver = RolloutDriver(
        job(rollouts, group_size, steps),
        envs=MemoryEnvs(FILES),
        verifier=PatchVerifier(lambda patch: "ordered[0] " in patch),
        policy=policy,
    )
    started = time.perf_counter()
    done = 0
    async for group in driver.run(tasks(rollouts // group_size)):
        done += sum(r.steps for r in group.records)
    elapsed = time.perf_counter() - started
    assert driver.stats.groups_dropped == 0 and done == rollouts * steps, driver.stats
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes (seconds): checks that it runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.smoke:
        cheap = (40, 4, 10, 0.0)
        wide = (50, 5, 3, 0.2)
    else:
        cheap = (200, 4, 30, 0.0)
        wide = (1000, 4, 10, 1.0)
    cheap_s, cheap_steps = asyncio.run(drive(*cheap))
    overhead_ms = cheap_s / cheap_steps * 1000
    print(
        f"no-latency run: {cheap[0]} rollouts x {cheap[2]} steps in {cheap_s:.3f}s: {overhead_ms:.3f} ms/step"
    )
    wide_s, wide_steps = asyncio.run(drive(*wide))
    rollouts, _, steps, latency = wide
    ideal = rollouts / latency
    achieved = wide_steps / wide_s
    print(
        f"{rollouts} concurrent rollouts x {steps} steps, policy latency {latency}s: {wide_s:.3f}s, "
        f"{achieved:.1f} steps/s (ideal {ideal:.1f})"
    )
    result = {
        "overhead_ms_per_step": round(overhead_ms, 4),
        "ratio_to_ideal_1000": round(achieved / ideal, 4),
        "rollouts": rollouts,
        "steps_per_rollout": steps,
        "policy_latency_s": latency,
        "environment": "in-process fake (envfarm.agent.memory_env), not bubblewrap",
        "smoke": args.smoke,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
