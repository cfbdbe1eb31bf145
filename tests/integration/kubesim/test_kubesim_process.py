"""Process mode: pods run as real local processes on loopback pod IPs, with logs and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from envfarm.kubesim import LaunchSpec, RunningProcess, SubprocessLauncher
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, wait_until

SERVER = (
    "import http.server, os; "
    "server = http.server.HTTPServer((os.environ['POD_IP'], 8080), http.server.SimpleHTTPRequestHandler); "
    "server.serve_forever()"
)


class RecordingLauncher:
    """A real subprocess launcher that remembers what it started (the injection point for sandboxes)."""

    def __init__(self) -> None:
        self.specs: list[LaunchSpec] = []
        self._inner = SubprocessLauncher()

    async def launch(self, spec: LaunchSpec) -> RunningProcess:
        self.specs.append(spec)
        return await self._inner.launch(spec)


@pytest.fixture
def proc_ks(tmp_path: Path) -> Iterator[tuple[KubeSimThread, RecordingLauncher]]:
    launcher = RecordingLauncher()
    with KubeSimThread(
        kubeconfig_path=tmp_path / "kubeconfig",
        nodes=1,
        mode="process",
        work_dir=tmp_path / "work",
        kubelet=fast_kubelet(),
    ) as ks:
        ks.sim.kubelet.launcher = launcher  # type: ignore[attr-defined]
        yield ks, launcher


def _pod(name: str, image: str, command: list[str], restart: str = "Never", **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": command, **extra}
    return {"metadata": {"name": name}, "spec": {"restartPolicy": restart, "containers": [container]}}


def test_exit_code_becomes_status_and_logs_are_served(
    proc_ks: tuple[KubeSimThread, RecordingLauncher],
) -> None:
    ks, launcher = proc_ks
    v1 = client.CoreV1Api(ks.api_client())
    v1.create_namespaced_pod(
        "default",
        _pod("job", "python:3.11", ["python", "-c", "print('hello from pod'); raise SystemExit(3)"]),
    )
    pod = wait_until(lambda: (p := v1.read_namespaced_pod("job", "default")).status.phase == "Failed" and p)
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 3 and term.reason == "Error"
    assert v1.read_namespaced_pod_log("job", "default") == "hello from pod\n"
    assert launcher.specs[0].argv[0] == sys.executable and launcher.specs[0].pod_ip.startswith("127.")


def test_server_pod_is_reachable_on_its_loopback_ip(proc_ks: tuple[KubeSimThread, RecordingLauncher]) -> None:
    ks, _ = proc_ks
    v1 = client.CoreV1Api(ks.api_client())
    probe = {"tcpSocket": {"port": 8080}}
    v1.create_namespaced_pod(
        "default",
        _pod(
            "web",
            "python",
            ["python", "-c", SERVER],
            "Always",
            ports=[{"containerPort": 8080}],
            readinessProbe=probe,
        ),
    )
    pod = wait_until(
        lambda: (
            (p := v1.read_namespaced_pod("web", "default")).status.container_statuses
            and p.status.container_statuses[0].ready
            and p
        )
    )
    assert pod.status.phase == "Running"
    assert httpx.get(f"http://{pod.status.pod_ip}:8080/").status_code == 200
    v1.delete_namespaced_pod("web", "default", grace_period_seconds=1)
    wait_until(lambda: not v1.list_namespaced_pod("default").items)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{pod.status.pod_ip}:8080/", timeout=1)


def test_unknown_image_fails_like_image_pull(proc_ks: tuple[KubeSimThread, RecordingLauncher]) -> None:
    ks, launcher = proc_ks
    v1 = client.CoreV1Api(ks.api_client())
    v1.create_namespaced_pod("default", _pod("nope", "registry.example/unknown:1", ["run"]))

    def reason() -> str:
        cs = v1.read_namespaced_pod("nope", "default").status.container_statuses
        return cs[0].state.waiting.reason if cs and cs[0].state.waiting else ""

    wait_until(lambda: reason() == "ImagePullBackOff")
    assert not launcher.specs


def test_restart_policy_restarts_failing_container(proc_ks: tuple[KubeSimThread, RecordingLauncher]) -> None:
    ks, _ = proc_ks
    v1 = client.CoreV1Api(ks.api_client())
    v1.create_namespaced_pod(
        "default", _pod("flaky", "busybox", ["sh", "-c", "echo run; exit 1"], "OnFailure")
    )
    wait_until(
        lambda: (
            (v1.read_namespaced_pod("flaky", "default").status.container_statuses or [None])[0] is not None
            and v1.read_namespaced_pod("flaky", "default").status.container_statuses[0].restart_count >= 2
        )
    )
    assert v1.read_namespaced_pod_log("flaky", "default").count("run") >= 2
