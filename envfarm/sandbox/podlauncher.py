"""Run kubesim's process-mode pods inside bubblewrap: the local sandbox, shaped for a pod.

A pod's container sees the host's files read-only (in process mode the host is the image), a private /tmp
and /dev, its own pid, IPC and UTS namespaces, no capabilities, and one writable folder: its working
directory. It shares the host's network namespace, because its pod IP is a loopback address that the
driver and the simulated API reach it on. Killing the sandbox's process group ends every process in it.
"""

from __future__ import annotations

import asyncio

from envfarm.errors import SandboxUnavailable
from envfarm.kubesim.launcher import GroupProcess, LaunchSpec, RunningProcess
from envfarm.sandbox.local import NO_BWRAP, find_bwrap


def pod_argv(bwrap: str, spec: LaunchSpec) -> list[str]:
    """The bwrap command line for one container (pure)."""
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
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
                *pod_argv(self.bwrap, spec),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return GroupProcess(proc)
