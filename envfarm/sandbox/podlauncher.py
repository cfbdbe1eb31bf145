"""Run kubesim's process-mode pods inside bubblewrap: the local sandbox, shaped for a pod.

A pod's container sees the host's files read-only (in process mode the host is the image; what envfarm
itself runs from stays visible even when it lies under /tmp), a private /tmp and /dev, its own pid, IPC and
UTS namespaces, no capabilities, and one writable folder: its working directory. It shares the host's
network namespace, because its pod IP is a loopback address that the driver and the simulated API reach
it on. Killing the sandbox's process group ends every process in it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from envfarm.errors import SandboxUnavailable
from envfarm.kubesim.launcher import GroupProcess, LaunchSpec, RunningProcess
from envfarm.sandbox.local import NO_BWRAP, find_bwrap


def host_paths(spec: LaunchSpec) -> list[str]:
    """What a pod runs from on this host: envfarm's own install, its Python, and the command's PATH."""
    found = [sys.prefix, sys.base_prefix, str(Path(__file__).resolve().parents[2])]
    found += [p for p in spec.env.get("PATH", "").split(":") if p]
    return found


def under_tmp(paths: list[str]) -> list[str]:
    """Those of ``paths`` that a private /tmp would hide (a checkout or venv under /tmp), each once."""
    keep: list[str] = []
    for path in paths:
        if (path == "/tmp" or path.startswith("/tmp/")) and Path(path).exists() and path not in keep:
            keep.append(path)
    return keep


def pod_argv(bwrap: str, spec: LaunchSpec, keep: list[str] | None = None) -> list[str]:
    """The bwrap command line for one container (pure); ``keep``: host paths under /tmp shown read-only."""
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in keep or []:
        args += ["--ro-bind", path, path]
    args += ["--bind", str(spec.cwd), str(spec.cwd), "--chdir", str(spec.cwd)]
    pod = spec.name.split("/")[1] if spec.name.count("/") >= 1 else spec.name
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", pod[:63] or "pod"]
    args += ["--cap-drop", "ALL", "--new-session", "--die-with-parent", "--clearenv"]
    for key, value in sorted(spec.env.items()):
        args += ["--setenv", key, value]
    return [*args, "--", *spec.argv]


class BwrapLauncher:
    """kubesim's :class:`~envfarm.kubesim.launcher.Launcher`, with every container in a bubblewrap sandbox."""

    def __init__(self, bwrap: str | None = None) -> None:
        found = bwrap or find_bwrap()
        if found is None:
            raise SandboxUnavailable(NO_BWRAP)
        self.bwrap = found

    async def launch(self, spec: LaunchSpec) -> RunningProcess:
        spec.cwd.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *pod_argv(self.bwrap, spec, under_tmp(host_paths(spec))),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return GroupProcess(proc)
