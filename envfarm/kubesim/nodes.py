"""Simulated nodes: their objects, capacity and readiness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envfarm.kubesim import quantity
from envfarm.kubesim.objects import now
from envfarm.kubesim.podstatus import condition

Obj = dict[str, Any]


@dataclass(frozen=True)
class NodeSpec:
    """One simulated node's name, capacity and labels."""

    name: str
    cpu: str = "32"
    memory: str = "128Gi"
    pods: int = 110
    labels: dict[str, str] = field(default_factory=dict)


def node_conditions(ready: bool) -> list[Obj]:
    stamp = now()
    pressure = [
        {**condition(t, False, r, m, stamp), "lastHeartbeatTime": stamp}
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    if ready:
        last = condition("Ready", True, "KubeletReady", "kubelet is posting ready status", stamp)
    else:
        last = {
            **condition("Ready", False, "NodeStatusUnknown", "Kubelet stopped posting node status.", stamp),
            "status": "Unknown",
        }
    return [*pressure, {**last, "lastHeartbeatTime": stamp}]


def node_object(spec: NodeSpec, index: int) -> Obj:
    capacity = {"cpu": spec.cpu, "memory": spec.memory, "pods": str(spec.pods), "ephemeral-storage": "100Gi"}
    labels = {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kubesim",
        **spec.labels,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels, "annotations": {"kubesim.envfarm.io/fake": "true"}},
        "spec": {"podCIDR": f"10.244.{index % 256}.0/24"},
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": node_conditions(True),
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.{index // 250}.{index % 250 + 1}"},
                {"type": "Hostname", "address": spec.name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.36.0-kubesim",
                "containerRuntimeVersion": "kubesim://1",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "kubesim",
                "kernelVersion": "",
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


@dataclass
class Capacity:
    """What one node can still take."""

    cpu_m: int
    memory: int
    pods: int
    labels: dict[str, str]
    schedulable: bool = True
    used_cpu: int = 0
    used_mem: int = 0
    used_pods: int = 0

    @classmethod
    def of(cls, node: Obj) -> Capacity:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or ()
        )
        return cls(
            cpu_m=quantity.millicores(alloc.get("cpu", "0")),
            memory=quantity.as_bytes(alloc.get("memory", "0")),
            pods=int(alloc.get("pods", "0")),
            labels=dict(node["metadata"].get("labels") or {}),
            schedulable=ready and not (node.get("spec") or {}).get("unschedulable", False),
        )

    def misfit(self, cpu: int, mem: int, selector: dict[str, str]) -> str:
        """Why a pod does not fit here ('' when it does)."""
        if not self.schedulable:
            return "node(s) were unschedulable"
        if any(self.labels.get(k) != v for k, v in selector.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        if self.used_pods + 1 > self.pods:
            return "Too many pods"
        if self.used_cpu + cpu > self.cpu_m:
            return "Insufficient cpu"
        if self.used_mem + mem > self.memory:
            return "Insufficient memory"
        return ""
