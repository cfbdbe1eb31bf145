"""Scheduler and fake kubelet: binding, Pending with a reason, failure injection, node loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from envfarm.kubesim.kubelet import FAILURE_ANNOTATION, RUN_ANNOTATION
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, pod_manifest, wait_until


def _pod(v1: Any, name: str) -> Any:
    return v1.read_namespaced_pod(name, "default")


def _waiting(p: Any) -> str:
    state = (p.status.container_statuses or [None])[0]
    return state.state.waiting.reason if state and state.state.waiting else ""


def test_running_pod_looks_like_a_kubelets(v1: Any) -> None:
    v1.create_namespaced_pod("default", pod_manifest("r"))
    p = wait_until(lambda: (q := _pod(v1, "r")).status.phase == "Running" and q)
    assert p.spec.node_name.startswith("kubesim-node-") and p.status.pod_ip and p.status.host_ip
    assert {c.type: c.status for c in p.status.conditions} == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    cs = p.status.container_statuses[0]
    assert (
        cs.ready
        and cs.started
        and cs.state.running.started_at
        and cs.container_id.startswith("containerd://")
    )


def test_unschedulable_pod_stays_pending_with_reason(v1: Any) -> None:
    big = pod_manifest("big")
    big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1000"}}
    v1.create_namespaced_pod("default", big)
    cond = wait_until(
        lambda: next((c for c in _pod(v1, "big").status.conditions or () if c.type == "PodScheduled"), None)
    )
    assert cond.status == "False" and cond.reason == "Unschedulable" and "Insufficient cpu" in cond.message
    events = v1.list_namespaced_event("default", field_selector="involvedObject.name=big").items
    assert [e.reason for e in events] == ["FailedScheduling"]


def test_pod_capacity_is_honoured(tmp_path: Path) -> None:
    with KubeSimThread(
        kubeconfig_path=tmp_path / "kc", nodes=1, pods_per_node=2, kubelet=fast_kubelet()
    ) as ks:
        v1 = client.CoreV1Api(ks.api_client())
        for i in range(3):
            v1.create_namespaced_pod("default", pod_manifest(f"p{i}"))
        wait_until(lambda: _pod(v1, "p2").status.conditions)
        assert _pod(v1, "p2").spec.node_name is None
        v1.delete_namespaced_pod("p0", "default")
        wait_until(lambda: _pod(v1, "p2").status.phase == "Running")


def test_injected_failures(v1: Any) -> None:
    def failing(name: str, kind: str, restart: str = "Always") -> None:
        body = pod_manifest(name, annotations={FAILURE_ANNOTATION: kind})
        body["spec"]["restartPolicy"] = restart
        v1.create_namespaced_pod("default", body)

    failing("pull", "ErrImagePull")
    failing("crash", "CrashLoopBackOff")
    failing("oom", "OOMKilled", "Never")
    failing("evict", "Evicted")
    wait_until(lambda: _waiting(_pod(v1, "pull")) == "ImagePullBackOff")
    assert _pod(v1, "pull").status.phase == "Pending"
    wait_until(lambda: _pod(v1, "crash").status.container_statuses[0].restart_count >= 1)
    crash = _pod(v1, "crash").status.container_statuses[0]
    assert crash.last_state.terminated.exit_code == 1
    oom = wait_until(lambda: (p := _pod(v1, "oom")).status.phase == "Failed" and p)
    assert oom.status.container_statuses[0].state.terminated.reason == "OOMKilled"
    assert oom.status.container_statuses[0].state.terminated.exit_code == 137
    ev = wait_until(lambda: (p := _pod(v1, "evict")).status.phase == "Failed" and p)
    assert ev.status.reason == "Evicted"


def test_failure_rate_and_completion(tmp_path: Path) -> None:
    always_fail = fast_kubelet(failure_rate=1.0, failure_kinds=("ErrImagePull",))
    with KubeSimThread(kubeconfig_path=tmp_path / "kc1", nodes=2, kubelet=always_fail) as ks:
        v1 = client.CoreV1Api(ks.api_client())
        for i in range(4):
            v1.create_namespaced_pod("default", pod_manifest(f"f{i}"))
        wait_until(lambda: all(_waiting(_pod(v1, f"f{i}")) == "ImagePullBackOff" for i in range(4)))
    with KubeSimThread(kubeconfig_path=tmp_path / "kc", nodes=1, kubelet=fast_kubelet()) as ks:
        v1 = client.CoreV1Api(ks.api_client())
        done = pod_manifest("done", annotations={RUN_ANNOTATION: "0.1"})
        done["spec"]["restartPolicy"] = "Never"
        v1.create_namespaced_pod("default", done)
        wait_until(lambda: _pod(v1, "done").status.phase == "Succeeded")


def test_node_loss_removes_its_pods(tmp_path: Path) -> None:
    with KubeSimThread(kubeconfig_path=tmp_path / "kc", nodes=2, kubelet=fast_kubelet()) as ks:
        v1 = client.CoreV1Api(ks.api_client())
        for i in range(4):
            v1.create_namespaced_pod("default", pod_manifest(f"n{i}"))
        wait_until(lambda: all(_pod(v1, f"n{i}").status.phase == "Running" for i in range(4)))
        ks.call(ks.sim.lose_node, "kubesim-node-0")
        node = v1.read_node("kubesim-node-0")
        assert [c.status for c in node.status.conditions if c.type == "Ready"] == ["Unknown"]
        wait_until(
            lambda: all(p.spec.node_name == "kubesim-node-1" for p in v1.list_namespaced_pod("default").items)
        )
        assert len(v1.list_namespaced_pod("default").items) == 2
