"""Resource limits of an environment, and the cgroup that enforces them where we may create one.

Limits are always applied as rlimits to every command the runtime starts (RLIMIT_AS, RLIMIT_NPROC inside
the sandbox's user namespace, RLIMIT_FSIZE, no core files). RLIMIT_NPROC does not bind uid 0 on the host,
so when a cgroup (v1 or v2) can be created, the whole sandbox also goes into one with pids.max and a memory
limit: that also covers a root host. Wall time is enforced by the runtime and by the sandbox owner.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)
CGROUP_ROOT = Path("/sys/fs/cgroup")
RUNTIME_THREADS = 32  # pids the runtime itself may use on top of the commands' limit


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_time_s: float = Field(default=3600.0, gt=0)
    memory_mb: int = Field(default=4096, gt=0)
    nproc: int = Field(default=512, gt=0)
    file_size_mb: int = Field(default=2048, gt=0)
    output_bytes: int = Field(default=1024 * 1024, gt=0)
    tmp_mb: int = Field(default=1024, gt=0)

    def runtime_args(self) -> list[str]:
        """The runtime's flags that put these limits on every command it starts."""
        return [
            "--nproc",
            str(self.nproc),
            "--mem-bytes",
            str(self.memory_mb * 1024 * 1024),
            "--fsize-bytes",
            str(self.file_size_mb * 1024 * 1024),
            "--max-output",
            str(self.output_bytes),
            "--lifetime-s",
            str(self.wall_time_s),
        ]


class Cgroup:
    """One sandbox's cgroup: a directory per controller (v1) or one directory (v2)."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    def join_self(self) -> None:
        """Move the calling process in (used as a ``preexec_fn`` before bwrap starts)."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs:
            text = _read(path / "cgroup.procs")
            found.update(int(pid) for pid in text.split())
        return found

    def kill_and_remove(self, wait_s: float = 2.0) -> None:
        deadline = time.monotonic() + wait_s
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                _kill(pid)
            time.sleep(0.01)
        for path in self.dirs:
            try:
                path.rmdir()
            except OSError as exc:
                log.warning("cannot remove cgroup %s: %s", path, exc)


def create_cgroup(name: str, limits: Limits) -> Cgroup | None:
    """A cgroup holding pids.max and a memory limit, or None where this process may not make one."""
    pids_max = str(limits.nproc + RUNTIME_THREADS)
    memory = str(limits.memory_mb * 1024 * 1024)
    v1 = {"pids": {"pids.max": pids_max}, "memory": {"memory.limit_in_bytes": memory}}
    if all(os.access(CGROUP_ROOT / ctl, os.W_OK) for ctl in v1):
        return _make([(CGROUP_ROOT / ctl / "envfarm" / name, files) for ctl, files in v1.items()])
    base = CGROUP_ROOT / "envfarm"
    controllers = _read(CGROUP_ROOT / "cgroup.subtree_control").split()
    if "pids" in controllers and "memory" in controllers and os.access(CGROUP_ROOT, os.W_OK):
        try:
            base.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+pids +memory")
        except OSError:
            return None
        return _make([(base / name, {"pids.max": pids_max, "memory.max": memory})])
    return None


def _make(plan: list[tuple[Path, dict[str, str]]]) -> Cgroup | None:
    made: list[Path] = []
    try:
        for path, files in plan:
            path.mkdir(parents=True, exist_ok=True)
            made.append(path)
            for fname, value in files.items():
                (path / fname).write_text(value)
    except OSError as exc:
        log.info("no cgroup limits (%s); relying on rlimits", exc)
        Cgroup(made).kill_and_remove()
        return None
    return Cgroup(made)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
