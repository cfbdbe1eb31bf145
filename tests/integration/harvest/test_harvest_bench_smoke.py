from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_bench_harvest_smoke_prints_its_json_last() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "harvest.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["candidates_per_s"] >= 200
    assert last["validation_ratio_vs_manual"] is None or last["validation_ratio_vs_manual"] > 0
