"""A scheduler: binds pending pods to nodes that fit, or leaves them Pending with the reason."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from envfarm.kubesim import podstatus, quantity
from envfarm.kubesim.events import EventRecorder
from envfarm.kubesim.nodes import Capacity
from envfarm.kubesim.resources import Registry, ResourceType
from envfarm.kubesim.store import Event, Key, Obj, Store, key_of

log = logging.getLogger(__name__)
TERMINAL = ("Succeeded", "Failed")


class Scheduler:
    """First fit from a rotating start (spreads pods), with node capacity kept up to date from events."""

    def __init__(self, store: Store, registry: Registry, recorder: EventRecorder) -> None:
        self.store = store
        self.pods = registry.lookup("", "v1", "pods")
        self.nodes_rt = registry.lookup("", "v1", "nodes")
        self.recorder = recorder
        self.nodes: dict[str, Capacity] = {}
        self.bound: dict[Key, tuple[str, int, int]] = {}
        self.queue: dict[Key, None] = {}
        self.unschedulable: set[Key] = set()
        self._wake = asyncio.Event()
        self._cursor = 0
        store.listeners.append(self._on_event)

    def _on_event(self, rt: ResourceType, event: Event) -> None:
        if rt is self.nodes_rt or rt.key == "/nodes":
            self._on_node(event)
        elif rt.key == "/pods":
            self._on_pod(event)

    def _on_node(self, event: Event) -> None:
        name = event.obj["metadata"]["name"]
        if event.type == "DELETED":
            self.nodes.pop(name, None)
            return
        cap = Capacity.of(event.obj)
        old = self.nodes.get(name)
        if old is not None:
            cap.used_cpu, cap.used_mem, cap.used_pods = old.used_cpu, old.used_mem, old.used_pods
        self.nodes[name] = cap
        self._retry_unschedulable()

    def _on_pod(self, event: Event) -> None:
        pod, key = event.obj, key_of(event.obj)
        node = pod["spec"].get("nodeName")
        done = event.type == "DELETED" or (pod.get("status") or {}).get("phase") in TERMINAL
        if done:
            self.queue.pop(key, None)
            self.unschedulable.discard(key)
            if self._release(key):
                self._retry_unschedulable()
        elif node:
            if key not in self.bound:
                self._account(key, node, pod)
        elif self._wants_scheduling(key, pod):
            self.queue[key] = None
            self._wake.set()

    def _wants_scheduling(self, key: Key, pod: Obj) -> bool:
        ours = pod["spec"].get("schedulerName", "default-scheduler") == "default-scheduler"
        return ours and key not in self.unschedulable and not pod["metadata"].get("deletionTimestamp")

    def _account(self, key: Key, node: str, pod: Obj) -> None:
        cpu, mem = quantity.pod_requests(pod)
        self.bound[key] = (node, cpu, mem)
        cap = self.nodes.get(node)
        if cap is not None:
            cap.used_cpu, cap.used_mem, cap.used_pods = (
                cap.used_cpu + cpu,
                cap.used_mem + mem,
                cap.used_pods + 1,
            )

    def _release(self, key: Key) -> bool:
        found = self.bound.pop(key, None)
        if found is None:
            return False
        node, cpu, mem = found
        cap = self.nodes.get(node)
        if cap is not None:
            cap.used_cpu, cap.used_mem, cap.used_pods = (
                cap.used_cpu - cpu,
                cap.used_mem - mem,
                cap.used_pods - 1,
            )
        return True

    def _retry_unschedulable(self) -> None:
        if self.unschedulable:
            for key in self.unschedulable:
                self.queue[key] = None
            self.unschedulable.clear()
            self._wake.set()

    async def run(self) -> None:
        """Bind queued pods whenever something changes."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            for key in list(self.queue):
                self.queue.pop(key, None)
                self._schedule(key)
            await asyncio.sleep(0)

    def _schedule(self, key: Key) -> None:
        pod = self.store.get(self.pods, *key)
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        cpu, mem = quantity.pod_requests(pod)
        node, why = self._fit(cpu, mem, pod["spec"].get("nodeSelector") or {})
        if node:
            self.store.put(self.pods, podstatus.bind(pod, node))
            self.recorder.record(
                pod,
                "Scheduled",
                f"Successfully assigned {key[0]}/{key[1]} to {node}",
                component="default-scheduler",
            )
            return
        self.unschedulable.add(key)
        message = f"0/{len(self.nodes)} nodes are available: {why}."
        conds = (pod.get("status") or {}).get("conditions") or ()
        if not any(c.get("type") == "PodScheduled" and c.get("message") == message for c in conds):
            self.store.put(self.pods, podstatus.unschedulable(pod, message))
            self.recorder.record(
                pod, "FailedScheduling", message, warning=True, component="default-scheduler"
            )

    def _fit(self, cpu: int, mem: int, selector: dict[str, str]) -> tuple[str, str]:
        names = list(self.nodes)
        reasons: Counter[str] = Counter()
        for i in range(len(names)):
            name = names[(self._cursor + i) % len(names)]
            why = self.nodes[name].misfit(cpu, mem, selector)
            if not why:
                self._cursor = (self._cursor + i + 1) % len(names)
                return name, ""
            reasons[why] += 1
        return "", ", ".join(
            f"{n} {why}" for why, n in sorted(reasons.items())
        ) or "no nodes available to schedule pods"
