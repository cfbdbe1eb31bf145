"""bench/store.py in smoke size: it runs and its last line is the JSON the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "store.py"


def test_store_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, check=True, timeout=300
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    keys = {
        "ingest_s",
        "tasks_per_s",
        "store_mb",
        "query_p50_ms",
        "query_p99_ms",
        "peak_rss_mb",
        "ratio_vs_json_loads",
    }
    assert keys <= result.keys()
    assert result["tasks"] == 2000 and result["tasks_per_s"] > 0 and result["ratio_vs_json_loads"] > 1
