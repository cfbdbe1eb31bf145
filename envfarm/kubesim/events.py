"""core/v1 Events that the scheduler and kubelets record about pods and nodes."""

from __future__ import annotations

import itertools
import time

from envfarm.kubesim.objects import now
from envfarm.kubesim.resources import Registry
from envfarm.kubesim.store import Obj, Store


class EventRecorder:
    """Writes Events; Normal ones only when ``normal`` is on (they cost a write each at scale)."""

    def __init__(self, store: Store, registry: Registry, normal: bool = True) -> None:
        self.store = store
        self.rt = registry.lookup("", "v1", "events")
        self.ns_rt = registry.lookup("", "v1", "namespaces")
        self.normal = normal
        self._seq = itertools.count()

    def record(
        self, obj: Obj, reason: str, message: str, *, warning: bool = False, component: str = "kubelet"
    ) -> None:
        if not warning and not self.normal:
            return
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        if self.store.get(self.ns_rt, "", ns) is None:
            return
        stamp = now()
        name = f"{meta['name']}.{int(time.time() * 1e9):x}{next(self._seq):04x}"
        involved = {
            "kind": obj.get("kind"),
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta.get("uid"),
            "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "uid": name, "creationTimestamp": stamp},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "source": {"component": component},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        self.store.put(self.rt, event)
