"""bench/verify.py in smoke size: it runs end to end and its last line is the JSON the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "verify.py"


def test_bench_verify_smoke_prints_ratios_last() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"ratio_vs_raw", "ratio_vs_raw_reruns3"} <= result.keys()
    assert 0 < result["ratio_vs_raw"] < 10 and 0 < result["ratio_vs_raw_reruns3"] < 10
    assert result["raw_s"] > 0 and result["tests"] == 20
