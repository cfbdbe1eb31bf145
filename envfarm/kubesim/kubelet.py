"""What every simulated kubelet shares: pod tracking, timers, graceful deletion, node loss."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from envfarm.kubesim import podstatus
from envfarm.kubesim.core import ApiCore
from envfarm.kubesim.events import EventRecorder
from envfarm.kubesim.nodes import node_conditions
from envfarm.kubesim.resources import ResourceType
from envfarm.kubesim.store import Event, Key, Obj, key_of

log = logging.getLogger(__name__)

FAILURE_ANNOTATION = "kubesim.envfarm.io/failure"
RUN_ANNOTATION = "kubesim.envfarm.io/run-seconds"
EXIT_ANNOTATION = "kubesim.envfarm.io/exit-code"
FAILURE_KINDS = ("ErrImagePull", "CrashLoopBackOff", "OOMKilled", "Evicted", "NodeLost")
TERMINAL = ("Succeeded", "Failed")


@dataclass
class KubeletConfig:
    """Delays (seconds, with +-jitter as a fraction) and failure injection of simulated kubelets."""

    creating_s: float = 0.2  # bound -> ContainerCreating
    start_s: float = 0.5  # ContainerCreating -> Running
    jitter: float = 0.2
    terminate_s: float = 0.2  # most a deleted pod takes to go (capped by its grace period)
    failure_rate: float = 0.0  # share of pods that get one of failure_kinds
    failure_kinds: tuple[str, ...] = ("ErrImagePull", "CrashLoopBackOff", "OOMKilled", "Evicted")
    crash_after_s: float = 1.0  # running time before an injected crash, OOM kill or eviction
    backoff_s: float = 1.0  # first restart / image pull back-off, doubled each time
    max_backoff_s: float = 30.0
    node_loss_eviction_s: float = 5.0  # pods on a lost node are removed after this
    run_s: float = 0.0  # default running time before a fake container exits 0 (0: runs until deleted)
    normal_events: bool = False  # record Normal events (Scheduled, Pulled, Started); warnings always
    seed: int | None = None  # injected failures fixed by pod name (reproducible runs), else random


class BaseKubelet:
    """Tracks the pods bound to the nodes it owns and runs timed steps on them."""

    def __init__(
        self, core: ApiCore, recorder: EventRecorder, config: KubeletConfig, owns: Callable[[str], bool]
    ) -> None:
        self.core = core
        self.store = core.store
        self.pods = core.registry.lookup("", "v1", "pods")
        self.nodes_rt = core.registry.lookup("", "v1", "nodes")
        self.recorder = recorder
        self.config = config
        self.owns = owns
        self.rng = random.Random()
        self.tracked: dict[Key, tuple[str, str]] = {}  # pod -> (uid, node)
        self.timers: dict[Key, asyncio.TimerHandle] = {}
        self.terminating: set[Key] = set()
        self.lost: set[str] = set()
        self._ips = itertools.count(1)
        self.store.listeners.append(self._on_event)

    # ---- events -------------------------------------------------------------------------------
    def _on_event(self, rt: ResourceType, event: Event) -> None:
        if rt.key != "/pods":
            return
        pod, key = event.obj, key_of(event.obj)
        node = pod["spec"].get("nodeName")
        if not node or not self.owns(node):
            return
        if event.type == "DELETED":
            self.forget(key)
        elif pod["metadata"].get("deletionTimestamp"):
            if key not in self.terminating:
                self.terminating.add(key)
                grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
                self.later(key, pod, min(grace, self.config.terminate_s), self.stop)
        elif key not in self.tracked and pod["status"].get("phase") not in TERMINAL and node not in self.lost:
            self.tracked[key] = (pod["metadata"]["uid"], node)
            self.start(key, pod)

    def start(self, key: Key, pod: Obj) -> None:
        raise NotImplementedError

    def stop(self, pod: Obj) -> None:
        """The pod's containers are stopped: let the deletion complete."""
        self.finish_delete(pod)

    async def shutdown(self) -> None:
        """Cancel pending steps (subclasses also stop what they run)."""
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def forget(self, key: Key) -> None:
        self.tracked.pop(key, None)
        self.terminating.discard(key)
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    # ---- timers -------------------------------------------------------------------------------
    def jittered(self, delay: float) -> float:
        j = self.config.jitter
        return max(0.0, delay * (1 + self.rng.uniform(-j, j))) if j else delay

    def later(self, key: Key, pod: Obj, delay: float, step: Callable[[Obj], None]) -> None:
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()
        uid = pod["metadata"]["uid"]
        loop = asyncio.get_running_loop()
        self.timers[key] = loop.call_later(self.jittered(delay), self._fire, key, uid, step)

    def _fire(self, key: Key, uid: str, step: Callable[[Obj], None]) -> None:
        self.timers.pop(key, None)
        pod = self.store.get(self.pods, *key)
        if pod is None or pod["metadata"].get("uid") != uid:
            return
        if pod["metadata"].get("deletionTimestamp") and step != self.stop:
            return
        try:
            step(pod)
        except Exception:
            log.exception("kubelet step %s on %s/%s failed", getattr(step, "__name__", step), *key)

    # ---- writes -------------------------------------------------------------------------------
    def put(self, pod: Obj) -> Obj:
        return self.store.put(self.pods, pod)

    def next_ip(self) -> str:
        n = next(self._ips)
        return f"10.{244 + n // 65536}.{(n // 256) % 256}.{n % 256}"

    def finish_delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta.get("finalizers"):
            self.core.lifecycle.finish_if_done(
                self.pods, self.put({**pod, "metadata": {**meta, "deletionGracePeriodSeconds": 0}})
            )
        else:
            self.store.remove(self.pods, meta.get("namespace", ""), meta["name"])

    # ---- node loss ----------------------------------------------------------------------------
    def lose_node(self, name: str) -> None:
        """The node stops reporting: NotReady, its pods unready, then removed after the eviction delay."""
        node = self.store.get(self.nodes_rt, "", name)
        if node is None or name in self.lost:
            return
        self.lost.add(name)
        taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
        self.store.put(
            self.nodes_rt,
            {
                **node,
                "spec": {**node["spec"], "taints": [taint]},
                "status": {**node["status"], "conditions": node_conditions(False)},
            },
        )
        for key, (_, where) in list(self.tracked.items()):
            pod = self.store.get(self.pods, *key)
            if where == name and pod is not None:
                self.forget(key)
                conds = podstatus.set_conditions(
                    pod["status"].get("conditions"),
                    podstatus.condition("Ready", False, "NodeLost", "Node is not ready"),
                )
                self.put(podstatus.with_status(pod, conditions=conds))
                self.later(key, pod, self.config.node_loss_eviction_s, self._evict_lost)

    def _evict_lost(self, pod: Obj) -> None:
        self.recorder.record(
            pod,
            "NodeNotReady",
            "Node is not ready; pod deleted by the node lifecycle controller",
            warning=True,
            component="node-controller",
        )
        self.timers.pop(key_of(pod), None)
        self.finish_delete(pod)

    def restore_node(self, name: str) -> None:
        node = self.store.get(self.nodes_rt, "", name)
        self.lost.discard(name)
        if node is not None:
            spec = {k: v for k, v in node["spec"].items() if k != "taints"}
            self.store.put(
                self.nodes_rt,
                {**node, "spec": spec, "status": {**node["status"], "conditions": node_conditions(True)}},
            )
