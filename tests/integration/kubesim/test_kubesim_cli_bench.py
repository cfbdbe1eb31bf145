"""`envfarm kubesim serve` as a user runs it, and the benchmark in smoke size."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client, config

from envfarm.testing.kubesim import wait_until

ROOT = Path(__file__).resolve().parents[3]
ENVFARM = [sys.executable, "-c", "from envfarm.cli.app import main; main()"]


def test_serve_writes_kubeconfig_and_serves_nodes(tmp_path: Path) -> None:
    kc = tmp_path / "kc.yaml"
    cmd = [
        *ENVFARM,
        "kubesim",
        "serve",
        "--nodes",
        "2",
        "--kubeconfig",
        str(kc),
        "--home",
        str(tmp_path / "home"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: kc.exists() and kc.stat().st_size > 0, timeout_s=30)
        server = yaml.safe_load(kc.read_text())["clusters"][0]["cluster"]["server"]
        assert server.startswith("http://127.0.0.1:")
        v1 = client.CoreV1Api(config.new_client_from_config(str(kc)))
        assert sorted(n.metadata.name for n in v1.list_node().items) == ["kubesim-node-0", "kubesim-node-1"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and f"export KUBECONFIG={kc}" in out


def test_serve_refuses_non_loopback_host(tmp_path: Path) -> None:
    done = subprocess.run(
        [*ENVFARM, "kubesim", "serve", "--host", "0.0.0.0", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "loopback" in done.stderr


def test_bench_smoke_prints_json_last_line() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "kubesim.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) == {
        "creates_per_s",
        "watch_events_per_s_1",
        "watch_events_per_s_10",
        "kib_per_pod",
        "seconds_10k_running",
    }
    assert all(value > 0 for value in result.values())
    assert "vs target" in done.stdout
