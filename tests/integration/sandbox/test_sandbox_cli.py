"""`envfarm repos add|list` and `envfarm env up|list|exec|diff|down` on the calc sample, and the bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envfarm.testing.samples import SAMPLES_DIR, build_sample

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[3]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(Path(sys.executable).parent / "envfarm"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "ENVFARM_HOME": str(home)})


def test_env_cli_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    build_sample("calc", tmp_path / "calc")
    assert _cli(home, "tasks", "ingest", str(SAMPLES_DIR / "tasks.jsonl")).returncode == 0
    assert _cli(home, "repos", "add", "envfarm-samples/calc", str(tmp_path / "calc")).returncode == 0
    assert "envfarm-samples/calc" in _cli(home, "repos", "list").stdout
    up = _cli(home, "env", "up", "envfarm-samples__calc-3")
    assert up.returncode == 0, up.stderr
    name = up.stdout.strip()
    try:
        assert name in _cli(home, "env", "list").stdout
        ran = _cli(home, "env", "exec", name, "--", "pytest", "-q", "tests/test_ops.py")
        assert ran.returncode == 0 and "5 passed" in ran.stdout
        assert _cli(home, "env", "exec", name, "--", "sh", "-c", "exit 7").returncode == 7
        _cli(home, "env", "exec", name, "--", "sh", "-c", "echo more >> README.md")
        assert "+more" in _cli(home, "env", "diff", name).stdout
    finally:
        assert _cli(home, "env", "down", name).returncode == 0
    assert list((home / "envs").iterdir()) == []
    missing = _cli(home, "env", "exec", name, "--", "true")
    assert missing.returncode == 2 and "no running environment" in missing.stderr


def test_bench_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sandbox.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("first_command_p50_ms", "first_command_p99_ms", "ratio_vs_subprocess", "exec_overhead_ratio"):
        assert result[key] > 0
    assert 0 < result["idle_env_rss_mb"] < 200
