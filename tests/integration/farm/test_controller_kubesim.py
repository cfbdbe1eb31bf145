"""The controller against kubesim (fake kubelet): completion, API writes, faults, restarts, two replicas."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from farm_sim import FAST, Farm


def test_hold_job_completes_within_three_writes_per_env(farm: Farm) -> None:
    farm.submit("hold", 50)
    with farm.controller():
        status = farm.wait("hold")
        time.sleep(0.5)
    assert status["counts"] == {"pending": 0, "running": 0, "succeeded": 50, "failed": 0, "infra_errors": 0}
    assert status["setup"] == {"attempted": 50, "up": 50} and status["setup_yield"] == 1.0
    assert farm.count("create", "pods") == 50 and farm.count("delete", "pods") == 50
    writes = (
        farm.count("create", "pods")
        + farm.count("delete", "pods")
        + farm.count("patch", "rolloutjobs/status")
    )
    assert writes / 50 <= 3
    assert not farm.pods()
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds == {"Running": "False", "Complete": "True", "Failed": "False"}


FAILING = replace(  # seeded: which pods fail is fixed by their (deterministic) names, not by timing
    FAST,
    failure_rate=0.3,
    failure_kinds=("ErrImagePull", "CrashLoopBackOff", "OOMKilled", "Evicted"),
    seed=11,
)


@pytest.mark.parametrize("farm", [FAILING], indirect=True)
def test_pod_failures_are_retried_then_counted_as_infra(farm: Farm) -> None:
    farm.submit("flaky", 60, seconds=1.0, retries=1)
    with farm.controller():
        status = farm.wait("flaky", timeout=90)
    counts = status["counts"]
    assert counts["failed"] == 0, "an infrastructure failure is never a task failure"
    assert counts["succeeded"] + counts["infra_errors"] == 60 and counts["infra_errors"] < 20
    assert set(status["infra_failures"]) <= {"image_pull", "runtime_unreachable", "oom", "evicted"}
    assert sum(status["infra_failures"].values()) >= 5
    assert status["setup"]["attempted"] == counts["succeeded"] + sum(status["infra_failures"].values())
    assert 0 < status["setup_yield"] < 1


def test_429_storm_500s_and_dropped_watches(farm: Farm) -> None:
    farm.ks.call(
        lambda: farm.ks.sim.faults.update(
            {"max_qps": 60, "burst": 20, "error_rate": 0.1, "watch_drop_rate": 0.2}
        )
    )
    farm.submit("storm", 80)
    with farm.controller():
        status = farm.wait("storm", timeout=90)
    assert status["counts"]["succeeded"] == 80
    assert farm.count("create", "pods", 201) == 80, "no pod created twice"
    assert farm.count("create", "pods", 429) + farm.count("create", "pods", 500) > 0


@pytest.mark.parametrize("farm", [replace(FAST, creating_s=0.02, start_s=0.02)], indirect=True)
def test_restart_mid_job_loses_and_duplicates_nothing(farm: Farm) -> None:
    farm.submit("big", 1000, seconds=0.5, concurrency=400)
    first = farm.controller("c1").start()
    deadline = time.time() + 60
    while time.time() < deadline and farm.status("big").get("counts", {}).get("succeeded", 0) < 300:
        time.sleep(0.1)
    first.stop()
    with farm.controller("c2"):
        status = farm.wait("big", timeout=120)
    assert status["counts"] == {"pending": 0, "running": 0, "succeeded": 1000, "failed": 0, "infra_errors": 0}
    assert status["setup"]["attempted"] == 1000
    assert farm.count("create", "pods", 201) == 1000, "every sample got exactly one pod"


def test_two_replicas_only_the_leader_creates(farm: Farm) -> None:
    farm.submit("pair", 30)
    with farm.controller("a") as a, farm.controller("b") as b:
        farm.wait("pair")
        leaders = [c.service.leader.is_leader.is_set() for c in (a, b)]
        created = [c.service.metrics.pods_created._value.get() for c in (a, b)]
    assert leaders.count(True) == 1
    assert sorted(created) == [0, 30]


def test_410_relists_and_node_loss(farm: Farm) -> None:
    farm.submit("gone", 30, seconds=1.5)
    with farm.controller() as c:
        time.sleep(0.8)
        farm.ks.call(lambda: farm.ks.sim.lose_node("kubesim-node-0"))
        farm.ks.call(lambda: setattr(farm.ks.sim.store, "window", 1) or farm.ks.sim.drop_watches())
        status = farm.wait("gone", timeout=60)
        relists = c.service.cluster.pod_informer.relists
    assert status["counts"]["succeeded"] + status["counts"]["infra_errors"] == 30
    assert status["counts"]["failed"] == 0
    assert relists >= 1
