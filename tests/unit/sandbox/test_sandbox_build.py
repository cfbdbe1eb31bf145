"""Sample repos are deterministic; env hashes, install commands, bwrap argv, venv cache eviction."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from envfarm.models import SweTask, parse_task
from envfarm.models.task import InstallConfig
from envfarm.sandbox import bwrap as bw
from envfarm.sandbox.builder import MARKER, EnvBuilder, install_commands
from envfarm.sandbox.envhash import env_hash
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import assert_sanitised, create_workspace, sanitise
from envfarm.testing.samples import SAMPLES_DIR, build_sample


def _tasks() -> list[SweTask]:
    lines = (SAMPLES_DIR / "tasks.jsonl").read_text().splitlines()
    return [t for t in (parse_task(json.loads(line)) for line in lines) if isinstance(t, SweTask)]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_sample_build_is_deterministic_and_matches_tasks(tmp_path: Path) -> None:
    labels = build_sample("calc", tmp_path / "a")
    assert build_sample("calc", tmp_path / "b") == labels
    task = _tasks()[0]
    assert task.base_commit == labels["docs-2"]
    assert _git(tmp_path / "a", "diff", labels["docs-2"], labels["fix-3"], "--", "src") == task.patch
    assert _git(tmp_path / "a", "diff", labels["docs-2"], labels["fix-3"], "--", "tests") == task.test_patch
    assert _git(tmp_path / "a", "rev-list", "--parents", "-n1", labels["merge-1"]).split()[1:] == [
        labels["init"],
        labels["stats"],
    ]
    assert _git(tmp_path / "a", "tag").split() == ["v0.1.0", "v0.2.0"]


def test_snapshot_and_workspace_hold_no_future(tmp_path: Path) -> None:
    labels = build_sample("calc", tmp_path / "src")
    cache = RepoCache(tmp_path / "repos")
    cache.add("envfarm-samples/calc", tmp_path / "src")
    snap, sha = cache.snapshot("envfarm-samples/calc", labels["docs-2"][:10])
    assert sha == labels["docs-2"]
    ws = create_workspace(snap, sha, tmp_path / "ws")
    assert _git(ws, "tag").split() == ["v0.1.0"]
    assert _git(ws, "rev-parse", "HEAD").strip() == sha
    assert [r.repo for r in cache.list()] == ["envfarm-samples/calc"]


def test_sanitise_strips_a_full_clone(tmp_path: Path) -> None:
    labels = build_sample("calc", tmp_path / "src")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tmp_path / "src"), str(clone)], check=True)
    sanitise(clone, labels["docs-2"])
    assert_sanitised(clone, labels["docs-2"])
    assert _git(clone, "remote") == "" and _git(clone, "tag").split() == ["v0.1.0"]
    check = _git(clone, "cat-file", "--batch-all-objects", "--batch-check")
    assert labels["fix-3"] not in check and labels["mode-4"] not in check


def test_env_hash_depends_on_install_inputs_only() -> None:
    task = _tasks()[0]
    same = task.model_copy(update={"instance_id": "other", "base_commit": "a" * 40})
    assert env_hash(task) == env_hash(same)
    other = task.model_copy(update={"install_config": InstallConfig(python="3.12", pip_packages=["pytest"])})
    assert env_hash(other) != env_hash(task)


def test_install_commands_order() -> None:
    config = InstallConfig(pre_install=["apt x"], pip_packages=["pytest==8"], install="pip install -e .")
    assert install_commands(config) == ["apt x", "python -m pip install 'pytest==8'", "pip install -e ."]


def test_bwrap_argv_isolates(tmp_path: Path) -> None:
    plan = bw.Plan(
        bwrap="bwrap",
        workspace="/w",
        runtime_py="/r.py",
        socket_dir="/s",
        python="/v/bin/python",
        runtime_args=["--nproc", "8"],
        ro_paths=["/v"],
        symlinks={"/bin": "usr/bin"},
        present=frozenset({"/usr"}),
    )
    argv = bw.build_argv(plan)
    text = " ".join(argv)
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--cap-drop ALL", "--clearenv"):
        assert flag in text
    assert "--share-net" not in argv and "--bind /w /testbed" in text and "--ro-bind /v /v" in text
    assert str(Path.home()) not in text
    assert argv[-2:] == ["--nproc", "8"] and "--token-stdin" in argv


def _fake_venv(root: Path, name: str, size: int, mtime: float) -> None:
    (root / name).mkdir(parents=True)
    marker = root / name / MARKER
    marker.write_text(json.dumps({"size": size}))
    os.utime(marker, (mtime, mtime))


def test_eviction_is_lru_by_size(tmp_path: Path) -> None:
    for i, name in enumerate(["old", "mid", "new"]):
        _fake_venv(tmp_path, name, 100, 1000.0 + i)
    builder = EnvBuilder(tmp_path, tmp_path / "pip", max_bytes=200)
    removed = builder.evict(keep={"old"})
    assert [p.name for p in removed] == ["mid"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["new", "old"]
