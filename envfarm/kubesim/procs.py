"""The process kubelet: each container is a real local process; the pod IP is a loopback address.

Images map to local commands through :class:`~envfarm.kubesim.images.ImageTable` (an unknown image fails
like an image pull), the launcher is injected (plain subprocess by default), exit codes become container
statuses, restarts follow restartPolicy with back-off, and output is kept for pods/log. Init containers run
one after another before the others start; env values come from fieldRef, secretKeyRef and
configMapKeyRef, and ``$(VAR)`` is expanded in command and args (see containerenv).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfarm.kubesim import podstatus as ps
from envfarm.kubesim.containerenv import MissingRef, expand_all, resolve_env
from envfarm.kubesim.core import ApiCore
from envfarm.kubesim.events import EventRecorder
from envfarm.kubesim.httpserver import ChunkWriter
from envfarm.kubesim.images import ImageTable
from envfarm.kubesim.kubelet import BaseKubelet, KubeletConfig
from envfarm.kubesim.launcher import Launcher, LaunchSpec, RunningProcess, SubprocessLauncher
from envfarm.kubesim.objects import now
from envfarm.kubesim.probes import probe_once
from envfarm.kubesim.selectors import field_value
from envfarm.kubesim.store import Key, Obj, key_of

__all__ = ["Launcher", "ProcessKubelet"]
PROBE_INTERVAL_S = 0.1


@dataclass
class PodRun:
    """The processes and container states of one pod."""

    key: Key
    uid: str
    ip: str
    dir: Path
    states: dict[str, Obj] = field(default_factory=dict)
    final: set[str] = field(default_factory=set)
    procs: dict[str, RunningProcess] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False
    init_failed: bool = False


class ProcessKubelet(BaseKubelet):
    """Runs pods as local processes through a :class:`Launcher`."""

    def __init__(
        self,
        core: ApiCore,
        recorder: EventRecorder,
        config: KubeletConfig,
        owns: Any,
        *,
        launcher: Launcher | None = None,
        images: ImageTable | None = None,
        work_dir: Path | None = None,
    ) -> None:
        super().__init__(core, recorder, config, owns)
        self.launcher: Launcher = launcher or SubprocessLauncher()
        self.images = images or ImageTable()
        self._work_dir = work_dir
        self.api_env: dict[str, str] = {}
        self.runs: dict[Key, PodRun] = {}
        self.secrets = core.registry.lookup("", "v1", "secrets")
        self.configmaps = core.registry.lookup("", "v1", "configmaps")
        # pod IPs from a random 127.X.0.0/16: two kubesims on one machine rarely share addresses (ports)
        self._loopback = itertools.count(1 + secrets.randbelow(200) * 65536)

    @property
    def work_dir(self) -> Path:
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="kubesim-"))
        return self._work_dir

    def next_ip(self) -> str:
        while True:
            n = next(self._loopback)
            if n % 256 not in (0, 255):
                return f"127.{1 + n // 65536}.{(n // 256) % 256}.{n % 256}"

    def start(self, key: Key, pod: Obj) -> None:
        self.later(key, pod, self.config.creating_s, self._creating)

    def _creating(self, pod: Obj) -> None:
        key, meta = key_of(pod), pod["metadata"]
        run = PodRun(
            key, meta["uid"], self.next_ip(), self.work_dir / "pods" / f"{key[0]}_{key[1]}_{meta['uid'][:8]}"
        )
        run.dir.mkdir(parents=True, exist_ok=True)
        self.runs[key] = run
        inits = pod["spec"].get("initContainers") or []
        first = ps.waiting("PodInitializing" if inits else "ContainerCreating")
        for c in [*inits, *pod["spec"]["containers"]]:
            run.states[c["name"]] = ps.container_status(pod, c, first)
        self.put(
            ps.with_status(
                pod,
                phase="Pending",
                conditions=ps.ready_conditions(pod, False),
                hostIP="127.0.0.1",
                hostIPs=[{"ip": "127.0.0.1"}],
                podIP=run.ip,
                podIPs=[{"ip": run.ip}],
                startTime=now(),
                containerStatuses=[run.states[c["name"]] for c in pod["spec"]["containers"]],
                **({"initContainerStatuses": [run.states[c["name"]] for c in inits]} if inits else {}),
            )
        )
        run.tasks.append(asyncio.create_task(self._start_pod(run, pod), name=f"kubesim-{key[1]}"))

    async def _start_pod(self, run: PodRun, pod: Obj) -> None:
        """Init containers one by one (each must exit 0), then every container at once."""
        for c in pod["spec"].get("initContainers") or ():
            if not await self._init_container(run, pod, c):
                return
        for c in pod["spec"]["containers"]:
            run.tasks.append(
                asyncio.create_task(self._container(run, pod, c), name=f"kubesim-{run.key[1]}-{c['name']}")
            )

    # ---- one container --------------------------------------------------------------------------
    def _lookup(self, namespace: str) -> Any:
        def lookup(kind: str, name: str, key: str) -> str | None:
            obj = self.store.get(self.secrets if kind == "secret" else self.configmaps, namespace, name)
            value = None if obj is None else (obj.get("data") or {}).get(key)
            if value is None or kind != "secret":
                return value if value is None else str(value)
            return base64.b64decode(value).decode("utf-8", "replace")

        return lookup

    def _env(self, run: PodRun, pod: Obj, c: Obj) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(run.dir),
            "LANG": "C.UTF-8",
            "HOSTNAME": pod["metadata"]["name"],
            "POD_IP": run.ip,
            "KUBESIM_POD_IP": run.ip,
            "POD_NAME": pod["metadata"]["name"],
            "POD_NAMESPACE": run.key[0],
            **self.api_env,
        }

        def field(path: str) -> Any:
            return run.ip if path == "status.podIP" else field_value(pod, path)

        return resolve_env(base, c, field, self._lookup(run.key[0]))

    async def _prepare(self, run: PodRun, pod: Obj, c: Obj) -> tuple[list[str], dict[str, str]] | None:
        """The container's argv and environment; waits (CreateContainerConfigError) for a missing ref."""
        while not run.stopping:
            try:
                env = self._env(run, pod, c)
            except MissingRef as exc:
                self._set(run, c, ps.waiting("CreateContainerConfigError", str(exc)))
                await asyncio.sleep(self.config.backoff_s)
                continue
            command, args = expand_all(c.get("command"), env), expand_all(c.get("args"), env)
            argv = self.images.argv(str(c.get("image", "")), command, args)
            if argv is None:
                await self._image_error(run, pod, c)
                return None
            return argv, env
        return None

    async def _init_container(self, run: PodRun, pod: Obj, c: Obj) -> bool:
        """Run one init container to completion; False when the pod must not go on."""
        ready = await self._prepare(run, pod, c)
        restarts, last = 0, None
        while ready is not None and not run.stopping:
            code = await self._run_once(run, pod, c, *ready, restarts, last)
            if code is None or run.stopping:
                return False
            ended = ps.terminated(code, "Completed" if code == 0 else "Error", now())
            if code == 0 or pod["spec"].get("restartPolicy", "Always") == "Never":
                run.init_failed = code != 0
                self._set(run, c, ended, restarts=restarts, last=last)
                return code == 0
            restarts, last = restarts + 1, ended
            back = min(self.config.backoff_s * 2 ** (restarts - 1), self.config.max_backoff_s)
            self._set(
                run, c, ps.waiting("CrashLoopBackOff", f"back-off {back:g}s"), restarts=restarts, last=last
            )
            await asyncio.sleep(back)
        return False

    async def _container(self, run: PodRun, pod: Obj, c: Obj) -> None:
        ready = await self._prepare(run, pod, c)
        if ready is None:
            return
        argv, env = ready
        restarts = 0
        last: Obj | None = None
        while not run.stopping:
            code = await self._run_once(run, pod, c, argv, env, restarts, last)
            if run.stopping or code is None:
                return
            ended = ps.terminated(code, "Completed" if code == 0 else "Error", now())
            policy = pod["spec"].get("restartPolicy", "Always")
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                run.final.add(c["name"])
                self._set(run, c, ended, restarts=restarts, last=last)
                return
            restarts, last = restarts + 1, ended
            back = min(self.config.backoff_s * 2 ** (restarts - 1), self.config.max_backoff_s)
            self._set(
                run,
                c,
                ps.waiting("CrashLoopBackOff", f"back-off {back:g}s restarting failed container"),
                restarts=restarts,
                last=last,
            )
            await asyncio.sleep(back)

    async def _run_once(
        self,
        run: PodRun,
        pod: Obj,
        c: Obj,
        argv: list[str],
        env: dict[str, str],
        restarts: int,
        last: Obj | None,
    ) -> int | None:
        if shutil.which(argv[0], path=os.environ.get("PATH")) is None:
            self._set(
                run,
                c,
                ps.terminated(128, "StartError", now(), f"exec: {argv[0]!r}: executable file not found"),
                restarts=restarts,
                last=last,
            )
            return 128
        spec = LaunchSpec(
            argv,
            env,
            run.dir / "work",
            run.dir / f"{c['name']}.log",
            run.ip,
            f"{run.key[0]}/{run.key[1]}/{c['name']}",
        )
        proc = await self.launcher.launch(spec)
        run.procs[c["name"]] = proc
        probe = c.get("readinessProbe")
        self._set(run, c, ps.running(now()), ready=probe is None, restarts=restarts, last=last)
        prober = asyncio.create_task(self._probe(run, c, restarts, last)) if probe else None
        try:
            return await proc.wait()
        finally:
            run.procs.pop(c["name"], None)
            if prober is not None:
                prober.cancel()

    async def _probe(self, run: PodRun, c: Obj, restarts: int, last: Obj | None) -> None:
        while not await probe_once(c["readinessProbe"], c, run.ip):
            await asyncio.sleep(PROBE_INTERVAL_S)
        state = run.states[c["name"]]["state"]
        self._set(run, c, state, ready=True, restarts=restarts, last=last)

    async def _image_error(self, run: PodRun, pod: Obj, c: Obj) -> None:
        image = c.get("image", "")
        message = f'Failed to pull image "{image}": kubesim has no local command for this image'
        self._set(run, c, ps.waiting("ErrImagePull", message))
        self.recorder.record(pod, "Failed", message, warning=True)
        await asyncio.sleep(self.config.backoff_s)
        self._set(run, c, ps.waiting("ImagePullBackOff", f'Back-off pulling image "{image}"'))

    # ---- status -----------------------------------------------------------------------------------
    def _set(
        self,
        run: PodRun,
        c: Obj,
        state: Obj,
        *,
        ready: bool = False,
        restarts: int = 0,
        last: Obj | None = None,
    ) -> None:
        pod = self.store.get(self.pods, *run.key)
        if pod is None or pod["metadata"]["uid"] != run.uid or run.stopping:
            return
        run.states[c["name"]] = ps.container_status(
            pod, c, state, ready=ready, restarts=restarts, last_state=last
        )
        statuses = [run.states[x["name"]] for x in pod["spec"]["containers"] if x["name"] in run.states]
        inits = [
            run.states[x["name"]] for x in pod["spec"].get("initContainers") or () if x["name"] in run.states
        ]
        self.put(
            ps.with_status(
                pod,
                phase=self._phase(run, statuses),
                containerStatuses=statuses,
                conditions=ps.ready_conditions(pod, all(s["ready"] for s in statuses)),
                **({"initContainerStatuses": inits} if inits else {}),
            )
        )

    @staticmethod
    def _phase(run: PodRun, statuses: list[Obj]) -> str:
        if run.init_failed:
            return "Failed"
        if len(run.final) == len(statuses):
            ok = all(s["state"].get("terminated", {}).get("exitCode") == 0 for s in statuses)
            return "Succeeded" if ok else "Failed"
        if any("waiting" in s["state"] and s.get("restartCount", 0) == 0 for s in statuses):
            return "Pending"
        return "Running"

    # ---- deletion ---------------------------------------------------------------------------------
    def stop(self, pod: Obj) -> None:
        run = self.runs.get(key_of(pod))
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        asyncio.get_running_loop().create_task(self._stop(run, pod, grace))

    async def _stop(self, run: PodRun | None, pod: Obj, grace: float) -> None:
        if run is not None:
            await self._kill(run, grace)
        current = self.store.get(self.pods, *key_of(pod))
        if current is not None and current["metadata"]["uid"] == pod["metadata"]["uid"]:
            self.finish_delete(current)

    async def _kill(self, run: PodRun, grace: float) -> None:
        run.stopping = True
        procs = list(run.procs.values())
        for proc in procs:
            proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), max(grace, 0.1))
        for proc in procs:
            proc.kill()
        for task in run.tasks:
            task.cancel()

    def forget(self, key: Key) -> None:
        super().forget(key)
        run = self.runs.pop(key, None)
        if run is not None and not run.stopping:
            asyncio.get_running_loop().create_task(self._kill(run, 0))

    async def shutdown(self) -> None:
        await super().shutdown()
        runs = list(self.runs.values())
        self.runs.clear()
        await asyncio.gather(*(self._kill(run, 0) for run in runs))

    # ---- LogSource --------------------------------------------------------------------------------
    def _log_path(self, pod: Obj, container: str) -> Path | None:
        run = self.runs.get(key_of(pod))
        return None if run is None else run.dir / f"{container}.log"

    def logs(self, pod: Obj, container: str) -> bytes:
        path = self._log_path(pod, container)
        return path.read_bytes() if path is not None and path.exists() else b""

    async def follow(self, pod: Obj, container: str, out: ChunkWriter) -> None:
        offset, key = 0, key_of(pod)
        while not out.closing:
            run = self.runs.get(key)
            done = run is None or run.stopping or container in run.final
            data = self.logs(pod, container)
            if len(data) > offset:
                await out.write(data[offset:])
                offset = len(data)
            if done:
                return
            await asyncio.sleep(0.1)
