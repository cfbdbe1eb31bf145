"""The 300 real SWE-bench Lite rows: ingest, then export to the SWE-bench format, gives the same values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envfarm.cli.app import app

LITE = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "swebench" / "swebench_lite_test.jsonl"
)
pytestmark = pytest.mark.skipif(not LITE.exists(), reason=f"shared data not found at {LITE}")


def _rows(path: Path) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["instance_id"]: r for r in rows}


@pytest.mark.parametrize("via", ["swebench", "parquet"])
def test_swebench_lite_round_trips_through_the_cli(via: str, tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    result = runner.invoke(app, ["tasks", "ingest", str(LITE), *home])
    assert result.exit_code == 0, result.output
    assert "accepted 300" in result.output
    if via == "parquet":
        mid = tmp_path / "mid.parquet"
        assert (
            runner.invoke(app, ["tasks", "export", "--format", "parquet", "-o", str(mid), *home]).exit_code
            == 0
        )
        home = ["--home", str(tmp_path / "home2")]
        assert runner.invoke(app, ["tasks", "ingest", str(mid), *home]).exit_code == 0
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["tasks", "export", "--format", "swebench", "-o", str(out), *home])
    assert result.exit_code == 0, result.output
    original, exported = _rows(LITE), _rows(out)
    assert exported.keys() == original.keys() and len(exported) == 300
    for instance_id, row in original.items():
        assert exported[instance_id] == row, instance_id


def test_reingest_is_a_no_op(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "home")]
    runner.invoke(app, ["tasks", "ingest", str(LITE), *home])
    result = runner.invoke(app, ["tasks", "ingest", str(LITE), *home])
    assert "accepted 0, updated 0, unchanged 300, rejected 0" in result.output
