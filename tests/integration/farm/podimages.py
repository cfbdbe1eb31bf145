"""What the container images of the farm hold, for kubesim's process mode (a test fake of images).

kubesim runs each container's command as a local process; this launcher gives the processes the files
their images would have, by rewriting absolute container paths in argv and env values to local ones:

- the envfarm image's ``/opt/envfarm/runtime.py`` is envfarm's runtime source, and ``envfarm`` is this
  virtualenv's entry point (ImageRule), so the Deployment's pods run the real controller;
- the emptyDir ``/envfarm`` is a folder per pod, shared by its init and main containers;
- a task image's ``/testbed`` is a fresh checkout of the task's repository at its base commit;
- the controller's ``/var/lib/envfarm`` (ENVFARM_HOME) is the test's envfarm home (task store, repos);
- an env container gets its own ``/tmp``, as in a pod (the verifier writes fixed paths under /tmp): it
  runs under bubblewrap with the host's root, a private tmpfs on /tmp, and the host's network (pod IPs
  are loopback addresses).
"""

from __future__ import annotations

import sys
from pathlib import Path

from envfarm.kubesim import ImageRule, ImageTable, LaunchSpec, RunningProcess, SubprocessLauncher
from envfarm.models.task import SweTask
from envfarm.sandbox.local import RUNTIME_PY, find_bwrap
from envfarm.sandbox.podlauncher import host_paths, under_tmp
from envfarm.sandbox.repos import RepoCache
from envfarm.sandbox.workspace import create_workspace
from envfarm.settings import Settings

BIN = Path(sys.executable).parent
ENVFARM_IMAGE = "ghcr.io/envfarm/envfarm"


def images() -> ImageTable:
    table = ImageTable()
    table.add(ImageRule(ENVFARM_IMAGE, (str(BIN / "envfarm"),), {"envfarm": str(BIN / "envfarm")}))
    return table


class ImageFiles:
    """A kubesim Launcher that maps the images' paths onto local ones, then starts a plain subprocess."""

    def __init__(self, home: Settings, tasks: dict[str, SweTask]) -> None:
        self.home, self.tasks = home, tasks
        self.inner = SubprocessLauncher()
        self.specs: list[LaunchSpec] = []

    def _paths(self, spec: LaunchSpec) -> dict[str, str]:
        pod_dir = spec.cwd.parent
        (pod_dir / "vol-envfarm").mkdir(exist_ok=True)
        return {
            "/opt/envfarm/runtime.py": str(RUNTIME_PY),
            "/envfarm": str(pod_dir / "vol-envfarm"),
            "/testbed": str(pod_dir / "testbed"),
            "/var/lib/envfarm": str(self.home.home),
        }

    def _testbed(self, spec: LaunchSpec) -> None:
        task = self.tasks.get(spec.env.get("ENVFARM_TASK_ID", ""))
        dest = spec.cwd.parent / "testbed"
        if task is not None and not dest.exists():
            snapshot, sha = RepoCache(self.home.repos_dir).snapshot(task.repo, task.base_commit)
            create_workspace(snapshot, sha, dest)

    async def launch(self, spec: LaunchSpec) -> RunningProcess:
        paths = self._paths(spec)
        env = {k: remap(v, paths) for k, v in spec.env.items()}
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        self._testbed(spec)
        argv = [remap(a, paths) for a in spec.argv]
        local = LaunchSpec(argv, env, spec.cwd, spec.log_path, spec.pod_ip, spec.name)
        if "ENVFARM_TASK_ID" in spec.env:
            shown = under_tmp(host_paths(local))
            argv = private_tmp(argv, [spec.cwd.parent, self.home.home], shown)
            local = LaunchSpec(argv, env, spec.cwd, spec.log_path, spec.pod_ip, spec.name)
        self.specs.append(local)
        return await self.inner.launch(local)


def remap(text: str, paths: dict[str, str]) -> str:
    """Rewrite an absolute container path (alone, or after ``--flag=``) to its local place."""
    head, sep, value = text.rpartition("=") if text.startswith("--") else ("", "", text)
    for prefix, local in paths.items():
        if value == prefix or value.startswith(prefix + "/"):
            return f"{head}{sep}{local}{value[len(prefix) :]}"
    return text


def private_tmp(argv: list[str], keep: list[Path], shown: list[str]) -> list[str]:
    """``argv`` under bubblewrap: the host's filesystem and network, a fresh /tmp, ``keep`` bound back
    writable and ``shown`` (envfarm's checkout and venv, when they lie under /tmp) read-only."""
    bwrap = find_bwrap()
    assert bwrap is not None, "bubblewrap is needed for env pods in process mode"
    binds = [x for path in shown for x in ("--ro-bind", path, path)]
    binds += [x for path in keep for x in ("--bind", str(path), str(path))]
    return [bwrap, "--dev-bind", "/", "/", "--tmpfs", "/tmp", *binds, "--die-with-parent", "--", *argv]
