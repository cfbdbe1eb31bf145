"""A KWOK-style fake kubelet: pods walk Pending -> ContainerCreating -> Running -> Succeeded/Failed on timers.

Failures are injected at ``KubeletConfig.failure_rate`` (or per pod with the
``kubesim.envfarm.io/failure`` annotation): ErrImagePull/ImagePullBackOff, CrashLoopBackOff, OOMKilled,
Evicted and NodeLost. ``kubesim.envfarm.io/run-seconds`` and ``kubesim.envfarm.io/exit-code`` make a
fake container exit.
"""

from __future__ import annotations

import hashlib

from envfarm.kubesim import podstatus as ps
from envfarm.kubesim.httpserver import ChunkWriter
from envfarm.kubesim.kubelet import EXIT_ANNOTATION, FAILURE_ANNOTATION, RUN_ANNOTATION, BaseKubelet
from envfarm.kubesim.objects import now
from envfarm.kubesim.store import Key, Obj, key_of


class FakeKubelet(BaseKubelet):
    """Runs no process: container states are made up on the configured schedule."""

    def start(self, key: Key, pod: Obj) -> None:
        self.later(key, pod, self.config.creating_s, self._creating)

    def _failure(self, pod: Obj) -> str:
        wanted = (pod["metadata"].get("annotations") or {}).get(FAILURE_ANNOTATION)
        if wanted:
            return str(wanted)
        cfg = self.config
        if not cfg.failure_kinds or cfg.failure_rate <= 0:
            return ""
        draw, pick = self._draws(pod)
        return cfg.failure_kinds[int(pick * len(cfg.failure_kinds))] if draw < cfg.failure_rate else ""

    def _draws(self, pod: Obj) -> tuple[float, float]:
        """Two uniform numbers for a pod: random, or, with ``seed``, fixed by the pod's name (any order)."""
        if self.config.seed is None:
            return self.rng.random(), self.rng.random()
        name = f"{self.config.seed}/{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
        digest = hashlib.sha256(name.encode()).digest()
        return int.from_bytes(digest[:4]) / 2**32, int.from_bytes(digest[4:8]) / 2**32

    def _creating(self, pod: Obj) -> None:
        ip = self.next_ip()
        node = self.store.get(self.nodes_rt, "", pod["spec"]["nodeName"]) or {}
        host = next(
            (
                a["address"]
                for a in (node.get("status") or {}).get("addresses") or ()
                if a["type"] == "InternalIP"
            ),
            "",
        )
        waiting = ps.all_containers(pod, ps.waiting("ContainerCreating"))
        pod = self.put(
            ps.with_status(
                pod,
                phase="Pending",
                conditions=ps.ready_conditions(pod, False),
                hostIP=host,
                hostIPs=[{"ip": host}],
                podIP=ip,
                podIPs=[{"ip": ip}],
                startTime=now(),
                containerStatuses=waiting,
            )
        )
        self.later(key_of(pod), pod, self.config.start_s, self._started)

    def _started(self, pod: Obj) -> None:
        failure = self._failure(pod)
        if failure == "ErrImagePull":
            self._image_pull_error(pod)
            return
        pod = self._run(pod, restarts=0)
        key = key_of(pod)
        if failure in ("CrashLoopBackOff", "OOMKilled"):
            self.later(
                key,
                pod,
                self.config.crash_after_s,
                self._crash_oom if failure == "OOMKilled" else self._crash,
            )
        elif failure == "Evicted":
            self.later(key, pod, self.config.crash_after_s, self._evict)
        elif failure == "NodeLost":
            self.later(key, pod, self.config.crash_after_s, lambda p: self.lose_node(p["spec"]["nodeName"]))
        else:
            run = float((pod["metadata"].get("annotations") or {}).get(RUN_ANNOTATION, self.config.run_s))
            if run > 0:
                self.later(key, pod, run, self._exit)

    def _run(self, pod: Obj, restarts: int, last: Obj | None = None) -> Obj:
        running = ps.all_containers(pod, ps.running(now()), ready=True, restarts=restarts, last=last)
        self.recorder.record(pod, "Started", "Started container")
        return self.put(
            ps.with_status(
                pod, phase="Running", conditions=ps.ready_conditions(pod, True), containerStatuses=running
            )
        )

    def _image_pull_error(self, pod: Obj) -> None:
        image = pod["spec"]["containers"][0].get("image", "")
        message = f'Failed to pull image "{image}": rpc error: code = NotFound desc = image not found'
        statuses = ps.all_containers(pod, ps.waiting("ErrImagePull", message))
        pod = self.put(ps.with_status(pod, containerStatuses=statuses))
        self.recorder.record(pod, "Failed", message, warning=True)
        self.later(key_of(pod), pod, self.config.backoff_s, self._image_backoff)

    def _image_backoff(self, pod: Obj) -> None:
        image = pod["spec"]["containers"][0].get("image", "")
        message = f'Back-off pulling image "{image}"'
        self.put(
            ps.with_status(
                pod, containerStatuses=ps.all_containers(pod, ps.waiting("ImagePullBackOff", message))
            )
        )
        self.recorder.record(pod, "BackOff", message, warning=True)

    def _restarts(self, pod: Obj) -> int:
        return max(
            (int(c.get("restartCount", 0)) for c in pod["status"].get("containerStatuses") or ()), default=0
        )

    def _crash(self, pod: Obj) -> None:
        self._terminate(pod, 1, "Error", crash=True)

    def _crash_oom(self, pod: Obj) -> None:
        self._terminate(pod, 137, "OOMKilled", crash=True)

    def _exit(self, pod: Obj) -> None:
        code = int((pod["metadata"].get("annotations") or {}).get(EXIT_ANNOTATION, 0))
        self._terminate(pod, code, "Completed" if code == 0 else "Error", crash=False)

    def _terminate(self, pod: Obj, code: int, reason: str, *, crash: bool) -> None:
        """A container exited: finish the pod or restart it per restartPolicy (with back-off)."""
        started = (
            ((pod["status"].get("containerStatuses") or [{}])[0].get("state") or {})
            .get("running", {})
            .get("startedAt", now())
        )
        ended = ps.terminated(code, reason, started)
        policy = pod["spec"].get("restartPolicy", "Always")
        restarts = self._restarts(pod)
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            phase = "Succeeded" if code == 0 else "Failed"
            statuses = ps.all_containers(pod, ended, restarts=restarts)
            self.put(
                ps.with_status(
                    pod,
                    phase=phase,
                    conditions=ps.ready_conditions(pod, False, "PodCompleted"),
                    containerStatuses=statuses,
                )
            )
            if code:
                self.recorder.record(
                    pod,
                    "BackOff" if crash else "Failed",
                    f"container exited with {reason} ({code})",
                    warning=True,
                )
            return
        back = min(self.config.backoff_s * 2**restarts, self.config.max_backoff_s)
        message = f"back-off {back:g}s restarting failed container"
        statuses = ps.all_containers(
            pod, ps.waiting("CrashLoopBackOff", message), restarts=restarts + 1, last=ended
        )
        pod = self.put(
            ps.with_status(pod, conditions=ps.ready_conditions(pod, False), containerStatuses=statuses)
        )
        self.recorder.record(pod, "BackOff", "Back-off restarting failed container", warning=True)
        self.later(key_of(pod), pod, back, self._restart_crash if crash else self._restart_clean)

    def _restart_crash(self, pod: Obj) -> None:
        last = (pod["status"].get("containerStatuses") or [{}])[0].get("lastState")
        pod = self._run(pod, self._restarts(pod), last)
        oom = ((last or {}).get("terminated") or {}).get("reason") == "OOMKilled"
        self.later(key_of(pod), pod, self.config.crash_after_s, self._crash_oom if oom else self._crash)

    def _restart_clean(self, pod: Obj) -> None:
        last = (pod["status"].get("containerStatuses") or [{}])[0].get("lastState")
        pod = self._run(pod, self._restarts(pod), last)
        run = float((pod["metadata"].get("annotations") or {}).get(RUN_ANNOTATION, self.config.run_s))
        if run > 0:
            self.later(key_of(pod), pod, run, self._exit)

    def _evict(self, pod: Obj) -> None:
        message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 12Mi."
        started = now()
        statuses = ps.all_containers(pod, ps.terminated(137, "Error", started))
        conds = ps.set_conditions(
            ps.ready_conditions(pod, False),
            ps.condition("DisruptionTarget", True, "TerminationByKubelet", message),
        )
        self.put(
            ps.with_status(
                pod,
                phase="Failed",
                reason="Evicted",
                message=message,
                conditions=conds,
                containerStatuses=statuses,
            )
        )
        self.recorder.record(pod, "Evicted", message, warning=True)

    # ---- LogSource ----------------------------------------------------------------------------
    def logs(self, pod: Obj, container: str) -> bytes:
        phase = (pod.get("status") or {}).get("phase", "Pending")
        return f"kubesim fake container {container} of pod {pod['metadata']['name']}: {phase}\n".encode()

    async def follow(self, pod: Obj, container: str, out: ChunkWriter) -> None:
        await out.write(self.logs(pod, container))
