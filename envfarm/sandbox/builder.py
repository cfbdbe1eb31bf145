"""Environment builder: one virtualenv per environment hash, shared read-only by its environments.

The local form of SWE-bench's base/env/instance image layers. A venv is built at its final path (venv
paths are absolute) under a file lock, by running the task's install commands inside a build sandbox that
has the network, the repository at ``/testbed`` (so editable installs point where every environment has
its workspace) and envfarm's own pip cache. A finished venv carries ``envfarm-env.json``; anything without
it is a broken build and is rebuilt. Least recently used venvs are evicted when the cache is over size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from envfarm.errors import EnvBuildError
from envfarm.models.task import InstallConfig, SweTask
from envfarm.sandbox.envhash import env_hash, python_version
from envfarm.sandbox.interpreters import Interpreter, find_python
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox, SandboxSpec

log = logging.getLogger(__name__)
MARKER = "envfarm-env.json"
BUILD_LIMITS = Limits(wall_time_s=3600, memory_mb=8192, nproc=1024, output_bytes=4 * 1024 * 1024)


@dataclass(frozen=True)
class BuiltEnv:
    hash: str
    venv: Path
    interpreter: Interpreter

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def ro_paths(self) -> list[Path]:
        return [
            self.venv,
            *([] if self.interpreter.prefix.is_relative_to("/usr") else [self.interpreter.prefix]),
        ]


PASS_ENV = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def host_pip_env(environ: dict[str, str]) -> tuple[dict[str, str], list[Path]]:
    """The host's pip/TLS/proxy settings for a build sandbox, and the local paths they name (to mount)."""
    env = {k: v for k, v in environ.items() if k.startswith("PIP_") or k in PASS_ENV}
    env.pop("PIP_CACHE_DIR", None)
    paths = []
    for value in env.values():
        for item in value.split():
            path = Path(item)
            if path.is_absolute() and path.exists() and not path.is_relative_to("/usr"):
                paths.append(path)
    return env, [p for p in dict.fromkeys(paths) if not p.is_relative_to("/etc")]


def install_commands(config: InstallConfig) -> list[str]:
    """The shell commands that install a task's dependencies, in order (pure)."""
    cmds = list(config.pre_install)
    if config.packages and not config.packages.endswith((".txt", ".yml", ".yaml")):
        cmds.append(f"python -m pip install {config.packages}")
    if config.pip_packages:
        cmds.append("python -m pip install " + " ".join(_quote(p) for p in config.pip_packages))
    cmds += [f"python -m pip install -r {_quote(path)}" for path in config.reqs_path]
    if config.install:
        cmds.append(config.install)
    return cmds + list(config.post_install)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


class EnvBuilder:
    def __init__(
        self, venvs_dir: Path, pip_cache: Path, *, max_bytes: int = 20 * 1024**3, unsafe: bool = False
    ):
        self.root = venvs_dir
        self.pip_cache = pip_cache
        self._building: dict[str, asyncio.Lock] = {}
        self.max_bytes = max_bytes
        self.unsafe = unsafe

    def cached(self, task: SweTask) -> BuiltEnv | None:
        """The task's finished venv without building anything (the fast path of every env start)."""
        venv = self.root / env_hash(task)
        if not (venv / MARKER).exists():
            return None
        os.utime(venv / MARKER)
        return BuiltEnv(venv.name, venv, find_python(python_version(task)))

    async def build(
        self, task: SweTask, checkout: Path | None = None, keep: set[str] | None = None
    ) -> BuiltEnv:
        """The task's venv, built now unless cached; ``checkout`` is the repository for install commands."""
        digest = env_hash(task)
        interpreter = find_python(python_version(task))
        venv = self.root / digest
        self.root.mkdir(parents=True, exist_ok=True)
        # one build per hash: an asyncio lock for this process's tasks (a group's G envs ask at once), then
        # the file lock for other processes, taken in a thread so that waiting never blocks the event loop
        async with self._building.setdefault(digest, asyncio.Lock()):
            lock = FileLock(str(venv) + ".lock", thread_local=False)
            await asyncio.to_thread(lock.acquire)
            try:
                if not (venv / MARKER).exists():
                    await self._build(task, digest, venv, interpreter, checkout)
                os.utime(venv / MARKER)
            finally:
                lock.release()
        self.evict(keep={digest, *(keep or set())})
        return BuiltEnv(digest, venv, interpreter)

    async def _build(
        self, task: SweTask, digest: str, venv: Path, interp: Interpreter, checkout: Path | None
    ) -> None:
        shutil.rmtree(venv, ignore_errors=True)
        log.info("building environment %s for %s (python %s)", digest, task.instance_id, interp.version)
        started = time.monotonic()
        made = subprocess.run(
            [str(interp.executable), "-m", "venv", str(venv)], capture_output=True, text=True
        )
        if made.returncode != 0:
            raise EnvBuildError(f"environment {digest}: python -m venv failed", log=made.stderr[-4000:])
        cmds = install_commands(task.install_config or InstallConfig())
        if cmds:
            await self._install(task, digest, BuiltEnv(digest, venv, interp), cmds, checkout)
        record = {"hash": digest, "python": interp.version, "commands": cmds, "size": _size(venv)}
        record["build_s"] = round(time.monotonic() - started, 2)
        (venv / MARKER).write_text(json.dumps(record, indent=1))

    async def _install(
        self, task: SweTask, digest: str, env: BuiltEnv, cmds: list[str], checkout: Path | None
    ) -> None:
        if checkout is None:
            raise EnvBuildError(f"environment {digest}: install commands need the repository checkout")
        self.pip_cache.mkdir(parents=True, exist_ok=True)
        config = task.install_config or InstallConfig()
        pip_env, pip_paths = host_pip_env(dict(os.environ))
        spec = SandboxSpec(
            workspace=checkout,
            base_commit="HEAD",
            python=env.python,
            ro_paths=[*env.ro_paths()[1:], *pip_paths],
            rw_paths=[env.venv, self.pip_cache],
            path_dirs=[str(env.venv / "bin")],
            env={
                **pip_env,
                "VIRTUAL_ENV": str(env.venv),
                "PIP_CACHE_DIR": str(self.pip_cache),
                **config.env_vars,
            },
            limits=BUILD_LIMITS,
            network=True,
        )
        sandbox = LocalSandbox(spec, name=f"build-{digest}", unsafe=self.unsafe)
        await sandbox.start()
        try:
            await self._run_all(sandbox, digest, env.venv, cmds)
        finally:
            await sandbox.stop()

    async def _run_all(self, sandbox: LocalSandbox, digest: str, venv: Path, cmds: list[str]) -> None:
        with (venv / "build.log").open("w") as logf:
            for cmd in cmds:
                res = await sandbox.exec(["bash", "-c", cmd], timeout_s=BUILD_LIMITS.wall_time_s)
                logf.write(f"$ {cmd}\n{res.stdout}{res.stderr}[exit {res.exit_code}]\n")
                if res.exit_code != 0:
                    tail = (res.stdout + res.stderr)[-4000:]
                    shutil.rmtree(venv, ignore_errors=True)
                    raise EnvBuildError(f"environment {digest}: `{cmd}` exited {res.exit_code}", log=tail)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last used, size, path) of every finished venv."""
        found = []
        for marker in self.root.glob(f"*/{MARKER}"):
            size = int(json.loads(marker.read_text()).get("size", 0))
            found.append((marker.stat().st_mtime, size, marker.parent))
        return sorted(found)

    def evict(self, keep: set[str]) -> list[Path]:
        """Remove least recently used venvs (never those in ``keep``) until the cache fits ``max_bytes``."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        removed: list[Path] = []
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            if path.name in keep:
                continue
            try:  # a venv someone holds (building or checking) is skipped, never waited for
                with FileLock(str(path) + ".lock", timeout=0, thread_local=False):
                    shutil.rmtree(path, ignore_errors=True)
            except Timeout:
                continue
            total -= size
            removed.append(path)
            log.info("evicted environment %s (%d bytes)", path.name, size)
        return removed


def _size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
