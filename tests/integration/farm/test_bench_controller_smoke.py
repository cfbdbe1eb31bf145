"""bench/controller.py --smoke runs end to end and prints its JSON with every key the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "controller.py"
KEYS = {
    "seconds_all_running_10k",
    "creates_per_s",
    "ratio_to_qps_budget",
    "api_writes_per_env",
    "cpu_s_per_1k_envs",
    "kib_per_tracked_pod",
    "reconcile_p50_ms",
    "reconcile_p99_ms",
    "seconds_all_running_50k",
}


def test_bench_smoke_prints_the_json_last() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS
    assert all(result[k] > 0 for k in KEYS), result
    assert result["api_writes_per_env"] <= 3
    assert result["kib_per_tracked_pod"] <= 10
    assert result["graded_results_logged"] == result["envs"], "every graded sample's result is in the log"
    assert result["graded_api_writes_per_env"] <= 3 and 0 < result["graded_status_ratio_to_etcd_limit"] < 1
