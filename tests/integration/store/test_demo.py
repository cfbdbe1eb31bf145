"""The README's main job, `envfarm demo`, end to end on the bundled samples (real bubblewrap sandboxes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_whole_local_pipeline(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "envfarm", "demo", "--home", str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out + proc.stderr
    assert "envfarm-samples__calc-3 │ gold  │ pass" in out
    assert "envfarm-samples__calc-3 │ empty │ fail" in out
    assert "7 candidates, 0 already done, 3 tasks stored" in out
    assert "│ pr-6                │ validated     │ f2p_empty" in out
