"""An environment for the calc sample task: up, tests, patch, diff, down without a trace."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from envfarm.errors import EnvBuildError, InterpreterMissing, RepoNotCached, SandboxUnavailable
from envfarm.models import SweTask
from envfarm.models.task import InstallConfig
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.patching import apply_patch
from envfarm.settings import Settings

pytestmark = pytest.mark.timeout(240)


def _procs_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


async def test_sample_task_end_to_end(sample_settings: Settings, calc_task: SweTask) -> None:
    manager = EnvManager(sample_settings)
    box = await manager.up(calc_task)
    workspace = box.spec.workspace
    cmd = calc_task.install_config.test_cmd if calc_task.install_config else ""
    assert isinstance(cmd, str)
    before = await box.exec(cmd, timeout_s=120)
    assert before.exit_code == 0 and "8 passed" in before.stdout
    assert apply_patch(workspace, calc_task.test_patch).method == "git apply"
    failing = await box.exec(cmd, timeout_s=120)
    assert "FAILED tests/test_stats.py::test_median_even" in failing.stdout
    await box.write(
        "src/calc/stats.py", (await box.read("src/calc/stats.py")).replace(b"// 2]", b"// 2 - 1]")
    )
    await box.exec("git checkout -q src/calc/stats.py")
    apply_patch(workspace, calc_task.patch)
    passing = await box.exec(cmd, timeout_s=120)
    assert "9 passed" in passing.stdout
    await box.exec("echo new > notes.txt; mkdir -p __pycache__ && echo x > __pycache__/a.pyc")
    diff = (await box.diff()).decode()
    assert "b/src/calc/stats.py" in diff and "b/tests/test_stats.py" in diff and "b/notes.txt" in diff
    assert "pyc" not in diff
    status = (await box.exec("git status --porcelain")).stdout
    assert "?? notes.txt" in status and "A " not in status  # the diff left the index untouched
    await box.exec("setsid sleep 987654 &")
    await manager.down(box)
    assert not workspace.exists() and not box.socket_dir.exists()
    await asyncio.sleep(0.1)
    assert _procs_with("987654") == []


async def test_diff_is_binary_safe(sample_settings: Settings, calc_task: SweTask) -> None:
    manager = EnvManager(sample_settings)
    box = await manager.up(calc_task)
    try:
        await box.write("blob.bin", bytes(range(256)) * 4)
        diff = await box.diff()
        assert b"GIT binary patch" in diff
    finally:
        await manager.down(box)


async def test_missing_repo_names_the_fix(sample_settings: Settings, calc_task: SweTask) -> None:
    task = calc_task.model_copy(update={"repo": "nobody/absent"})
    with pytest.raises(RepoNotCached, match=r"envfarm repos add nobody/absent PATH"):
        await EnvManager(sample_settings).up(task)


async def test_missing_interpreter_is_named(sample_settings: Settings, calc_task: SweTask) -> None:
    task = calc_task.model_copy(update={"install_config": InstallConfig(python="2.1")})
    with pytest.raises(InterpreterMissing, match=r"python 2\.1"):
        await EnvManager(sample_settings).up(task)


async def test_failed_build_reports_its_log(sample_settings: Settings, calc_task: SweTask) -> None:
    config = InstallConfig(python="3.11", install="echo building; echo broken >&2; exit 3")
    task = calc_task.model_copy(update={"install_config": config})
    with pytest.raises(EnvBuildError, match="exited 3") as info:
        await EnvManager(sample_settings).up(task)
    assert "broken" in info.value.log


async def test_no_bwrap_refuses_unless_unsafe(tmp_path: Path, calc_task: SweTask) -> None:
    spec = SandboxSpec(workspace=tmp_path, base_commit="HEAD", python="/usr/bin/python3")
    box = LocalSandbox(spec, bwrap=None, unsafe=False)
    box.bwrap = None
    with pytest.raises(SandboxUnavailable, match="unsafe"):
        await box.start()
    os.system(f"git -C {tmp_path} init -q")
    unsafe = LocalSandbox(spec, unsafe=True)
    unsafe.bwrap = None
    await unsafe.start()
    try:
        assert (await unsafe.exec("pwd")).stdout.strip() == str(tmp_path)
    finally:
        await unsafe.stop()
