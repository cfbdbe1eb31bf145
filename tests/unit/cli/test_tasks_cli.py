from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from envfarm.cli.app import app

PATCH = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def _record(n: int, **extra: object) -> dict[str, object]:
    return {
        "repo": "acme/lib",
        "instance_id": f"acme__lib-{n}",
        "base_commit": "a" * 40,
        "patch": PATCH.replace("x = 2", f"x = {n + 1}"),
        "test_patch": PATCH.replace("a.py", "test_a.py"),
        "problem_statement": f"Parser crashes on input {n}",
        "FAIL_TO_PASS": ["test_a.py::test_x"],
        **extra,
    }


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_ingest_list_show_stats(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "h")]
    src = _write(tmp_path / "t.jsonl", [_record(1), _record(2), "{broken"])
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(app, ["tasks", "ingest", str(src), "--rejects", str(rejects), *home])
    assert result.exit_code == 1
    assert "accepted 2, updated 0, unchanged 0, rejected 1" in result.output
    assert "t.jsonl:3: malformed JSON" in result.output
    assert json.loads(rejects.read_text())["line"] == 3
    listed = runner.invoke(app, ["tasks", "list", "--text", "input 2", "--json", *home])
    assert [json.loads(line)["instance_id"] for line in listed.output.splitlines()] == ["acme__lib-2"]
    shown = runner.invoke(app, ["tasks", "show", "acme__lib-1", *home])
    assert json.loads(shown.output)["FAIL_TO_PASS"] == ["test_a.py::test_x"]
    stats = runner.invoke(app, ["tasks", "stats", "--json", *home])
    assert json.loads(stats.output)["by_repo"] == {"acme/lib": 2}


def test_strict_flag_stores_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(tmp_path / "h")]
    src = _write(tmp_path / "t.jsonl", [_record(1), {"instance_id": "x"}])
    result = runner.invoke(app, ["tasks", "ingest", "--strict", str(src), *home])
    assert result.exit_code == 1 and "nothing was stored" in result.output
    stats = runner.invoke(app, ["tasks", "stats", "--json", *home])
    assert json.loads(stats.output)["tasks"] == 0


def test_errors_print_one_line_not_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "envfarm", "tasks", "show", "missing-id", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "no task 'missing-id'" in proc.stderr and "Traceback" not in proc.stderr
