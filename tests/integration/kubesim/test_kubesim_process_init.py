"""Process mode: init containers run first and in order (a failing one fails the pod), env values come
from secretKeyRef, and $(VAR) is expanded in args, as the env pods of the farm controller need."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, wait_until


@pytest.fixture
def v1(tmp_path: Path) -> Iterator[Any]:
    with KubeSimThread(
        kubeconfig_path=tmp_path / "kubeconfig",
        nodes=1,
        mode="process",
        work_dir=tmp_path / "work",
        kubelet=fast_kubelet(),
    ) as ks:
        yield client.CoreV1Api(ks.api_client())


def write(path: Path, text: str) -> list[str]:
    return ["python", "-c", f"open({str(path)!r}, 'a').write({text!r} + '\\n')"]


def test_init_containers_then_main_with_secret_and_expanded_args(v1: Any, tmp_path: Path) -> None:
    out = tmp_path / "order.txt"
    v1.create_namespaced_secret("default", {"metadata": {"name": "tok"}, "stringData": {"token": "s3cret"}})
    main = {
        "name": "main",
        "image": "python:3.11",
        "command": ["python", "-c", "import os, sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"],
        "args": [str(out), "main $(POD_IP) $(TOKEN) $$(KEPT)"],
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "token"}}},
        ],
    }
    inits = [
        {"name": "one", "image": "python:3.11", "command": write(out, "one")},
        {"name": "two", "image": "python:3.11", "command": write(out, "two")},
    ]
    pod = {
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never", "initContainers": inits, "containers": [main]},
    }
    v1.create_namespaced_pod("default", pod)
    got = wait_until(lambda: (p := v1.read_namespaced_pod("p", "default")).status.phase == "Succeeded" and p)
    ip = got.status.pod_ip
    assert out.read_text().splitlines() == ["one", "two", f"main {ip} s3cret $(KEPT)"]
    assert [s.state.terminated.reason for s in got.status.init_container_statuses] == [
        "Completed",
        "Completed",
    ]


def test_failing_init_container_fails_the_pod_and_main_never_runs(v1: Any, tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    inits = [{"name": "bad", "image": "python:3.11", "command": ["python", "-c", "raise SystemExit(4)"]}]
    main = {"name": "main", "image": "python:3.11", "command": write(out, "main")}
    pod = {
        "metadata": {"name": "q"},
        "spec": {"restartPolicy": "Never", "initContainers": inits, "containers": [main]},
    }
    v1.create_namespaced_pod("default", pod)
    got = wait_until(lambda: (p := v1.read_namespaced_pod("q", "default")).status.phase == "Failed" and p)
    assert got.status.init_container_statuses[0].state.terminated.exit_code == 4
    assert not out.exists()


def test_missing_secret_waits_then_starts_once_it_exists(v1: Any, tmp_path: Path) -> None:
    out = tmp_path / "late.txt"
    main = {
        "name": "main",
        "image": "python:3.11",
        "command": [
            "python",
            "-c",
            "import os, sys; open(sys.argv[1], 'w').write(os.environ['T'])",
            str(out),
        ],
        "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "late", "key": "k"}}}],
    }
    v1.create_namespaced_pod(
        "default", {"metadata": {"name": "r"}, "spec": {"restartPolicy": "Never", "containers": [main]}}
    )

    def waiting() -> str:
        cs = v1.read_namespaced_pod("r", "default").status.container_statuses
        return cs[0].state.waiting.reason if cs and cs[0].state.waiting else ""

    wait_until(lambda: waiting() == "CreateContainerConfigError")
    v1.create_namespaced_secret("default", {"metadata": {"name": "late"}, "stringData": {"k": "v"}})
    wait_until(lambda: v1.read_namespaced_pod("r", "default").status.phase == "Succeeded")
    assert out.read_text() == "v"
