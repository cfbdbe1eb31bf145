"""How the process kubelet starts a container's command: an injected launcher, plain subprocess by default.

kubesim may not import envfarm.sandbox; the CLI layer passes a sandboxing launcher (bubblewrap) that
follows the same :class:`Launcher` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class LaunchSpec:
    """One container process to start."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    pod_ip: str
    name: str  # namespace/pod/container, for logs and sandbox names


class RunningProcess(Protocol):
    pid: int

    async def wait(self) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    async def launch(self, spec: LaunchSpec) -> RunningProcess: ...


class GroupProcess:
    """A subprocess in its own session; signals go to its whole process group."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    async def wait(self) -> int:
        return await self._proc.wait()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


class SubprocessLauncher:
    """Runs the command as a plain local process (no isolation), output appended to the log file."""

    async def launch(self, spec: LaunchSpec) -> RunningProcess:
        spec.cwd.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=spec.cwd,
                env=spec.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return GroupProcess(proc)
