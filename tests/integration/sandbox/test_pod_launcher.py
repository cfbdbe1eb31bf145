"""kubesim process mode with every container in bubblewrap: a pod runs, is reachable, and is contained."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from envfarm.kubesim.launcher import LaunchSpec
from envfarm.sandbox.podlauncher import BwrapLauncher, pod_argv
from envfarm.testing.kubesim import KubeSimThread, fast_kubelet, wait_until

SERVER = (
    "import http.server, os; "
    "server = http.server.HTTPServer((os.environ['POD_IP'], 8080), http.server.SimpleHTTPRequestHandler); "
    "server.serve_forever()"
)


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[client.CoreV1Api]:
    with KubeSimThread(
        kubeconfig_path=tmp_path / "kubeconfig",
        nodes=1,
        mode="process",
        work_dir=tmp_path / "work",
        kubelet=fast_kubelet(),
        launcher=BwrapLauncher(),
    ) as ks:
        yield client.CoreV1Api(ks.api_client())


def _pod(name: str, command: list[str], restart: str = "Never", **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "python:3.11", "command": command, **extra}
    return {"metadata": {"name": name}, "spec": {"restartPolicy": restart, "containers": [container]}}


def _phase(v1: client.CoreV1Api, name: str) -> str:
    return str(v1.read_namespaced_pod(name, "default").status.phase)


def test_pod_cannot_write_outside_its_folder_or_see_host_processes(sandboxed: client.CoreV1Api) -> None:
    host_dir = Path(tempfile.mkdtemp(dir="/var/tmp"))  # not under /tmp, which is private in the pod
    target = host_dir / "outside.txt"
    script = (
        "import os, pathlib\n"
        f"try:\n    pathlib.Path({str(target)!r}).write_text('x'); print('WROTE')\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
        "print('pids', len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
        "pathlib.Path('ok.txt').write_text('mine'); print('own folder ok')\n"
    )
    sandboxed.create_namespaced_pod("default", _pod("probe", ["python", "-c", script]))
    wait_until(lambda: _phase(sandboxed, "probe") == "Succeeded")
    log = sandboxed.read_namespaced_pod_log("probe", "default")
    assert "refused 30" in log and "WROTE" not in log and not target.exists()  # EROFS
    assert "own folder ok" in log
    shutil.rmtree(host_dir)
    pids = int(log.split("pids ")[1].split()[0])
    assert pids <= 3  # bwrap's init, python, maybe a shell: not the host's processes


def test_sandboxed_server_pod_is_reachable_on_its_pod_ip(sandboxed: client.CoreV1Api) -> None:
    ready = {"tcpSocket": {"port": 8080}}
    sandboxed.create_namespaced_pod(
        "default", _pod("web", ["python", "-c", SERVER], "Always", readinessProbe=ready)
    )
    pod = wait_until(
        lambda: (
            (p := sandboxed.read_namespaced_pod("web", "default")).status.container_statuses
            and p.status.container_statuses[0].ready
            and p
        )
    )
    assert httpx.get(f"http://{pod.status.pod_ip}:8080/").status_code == 200
    sandboxed.delete_namespaced_pod("web", "default", grace_period_seconds=1)
    wait_until(lambda: not sandboxed.list_namespaced_pod("default").items)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{pod.status.pod_ip}:8080/", timeout=1)


def test_pod_argv_is_read_only_root_with_one_writable_folder(tmp_path: Path) -> None:
    spec = LaunchSpec(
        ["python", "-V"], {"PATH": "/usr/bin"}, tmp_path, tmp_path / "log", "127.0.0.5", "ns/pod-a/main"
    )
    argv = pod_argv("/bwrap", spec)
    assert argv[:5] == ["/bwrap", "--ro-bind", "/", "/", "--dev"]
    assert argv[argv.index("--bind") + 1] == str(tmp_path) and argv.count("--bind") == 1
    assert "--unshare-pid" in argv and "--cap-drop" in argv and argv[-3:] == ["--", "python", "-V"]
    assert argv[argv.index("--hostname") + 1] == "pod-a"
