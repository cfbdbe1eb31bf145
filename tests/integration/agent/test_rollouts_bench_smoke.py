"""bench/rollouts.py in smoke size: it runs end to end and its last line is the JSON the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "rollouts.py"


def test_bench_rollouts_smoke_prints_figures_last() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"overhead_ms_per_step", "ratio_to_ideal_1000"} <= result.keys() and result["smoke"] is True
    assert 0 < result["overhead_ms_per_step"] < 50 and 0.3 < result["ratio_to_ideal_1000"] <= 1.0
