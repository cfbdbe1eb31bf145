"""A minimal Deployment controller: keeps ``spec.replicas`` pods of the current template, reports status."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from envfarm.errors import ApiError
from envfarm.kubesim import jsonio
from envfarm.kubesim.core import ApiCore
from envfarm.kubesim.objects import now, random_suffix
from envfarm.kubesim.podstatus import condition
from envfarm.kubesim.resources import ResourceType
from envfarm.kubesim.store import Event, Key, Obj

log = logging.getLogger(__name__)
HASH_LABEL = "pod-template-hash"


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(jsonio.dumps(template)).hexdigest()
    return "".join("bcdfghjklmnpqrstvwxz2456789"[int(c, 16)] for c in digest[:10])


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def _active(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded",
        "Failed",
    )


class DeploymentController:
    """Deployment -> pods directly (no ReplicaSet objects); replaces pods when the template changes."""

    def __init__(self, core: ApiCore) -> None:
        self.core = core
        self.rt = core.registry.lookup("apps", "v1", "deployments")
        self.pods = core.registry.lookup("", "v1", "pods")
        self.dirty: dict[Key, None] = {}
        self._wake = asyncio.Event()
        core.store.listeners.append(self._on_event)

    def _on_event(self, rt: ResourceType, event: Event) -> None:
        meta = event.obj["metadata"]
        if rt.key == "apps/deployments" and event.type != "DELETED":
            self._mark((meta.get("namespace", ""), meta["name"]))
        elif rt.key == "/pods":
            for ref in meta.get("ownerReferences") or ():
                if ref.get("kind") == "Deployment" and ref.get("controller"):
                    self._mark((meta.get("namespace", ""), ref["name"]))

    def _mark(self, key: Key) -> None:
        self.dirty[key] = None
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for key in list(self.dirty):
                self.dirty.pop(key, None)
                try:
                    self.reconcile(*key)
                except ApiError as exc:
                    log.warning("deployment %s/%s: %s", *key, exc)
            await asyncio.sleep(0.01)

    def owned(self, deploy: Obj) -> list[Obj]:
        uid = deploy["metadata"]["uid"]
        refs = self.core.lifecycle.dependents.get(uid, set())
        pods = (self.core.store.get(self.pods, ns, name) for key, ns, name in refs if key == "/pods")
        return [p for p in pods if p is not None]

    def reconcile(self, ns: str, name: str) -> None:
        deploy = self.core.store.get(self.rt, ns, name)
        if deploy is None or deploy["metadata"].get("deletionTimestamp"):
            return
        spec = deploy["spec"]
        wanted, h = int(spec.get("replicas", 1)), template_hash(spec["template"])
        pods = [p for p in self.owned(deploy) if _active(p)]
        current = [p for p in pods if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == h]
        for pod in [p for p in pods if p not in current] + sorted(current, key=_ready)[
            : max(0, len(current) - wanted)
        ]:
            self.core.delete(self.pods, ns, pod["metadata"]["name"], {"propagationPolicy": "Background"})
        for _ in range(wanted - len(current)):
            self.core.create(self.pods, ns, self._pod(deploy, h))
        self._status(
            deploy, min(len(current), wanted), sum(1 for p in current[:wanted] if _ready(p)), len(pods)
        )

    def _pod(self, deploy: Obj, h: str) -> Obj:
        template, meta = deploy["spec"]["template"], deploy["metadata"]
        tmeta = template.get("metadata") or {}
        owner = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        pod_meta = {
            "name": f"{meta['name']}-{h}-{random_suffix()}",
            "labels": {**(tmeta.get("labels") or {}), HASH_LABEL: h},
            "annotations": dict(tmeta.get("annotations") or {}),
            "ownerReferences": [owner],
        }
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template["spec"]}

    def _status(self, deploy: Obj, updated: int, ready: int, total: int) -> None:
        wanted = int(deploy["spec"].get("replicas", 1))
        old = deploy.get("status") or {}
        available = ready >= wanted
        conds = [
            {
                **condition(
                    "Available",
                    available,
                    "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                ),
                "lastUpdateTime": now(),
            },
            {
                **condition(
                    "Progressing",
                    True,
                    "NewReplicaSetAvailable",
                    f'Pods of "{deploy["metadata"]["name"]}" are progressing.',
                ),
                "lastUpdateTime": now(),
            },
        ]
        for cond in conds:
            prev = next((c for c in old.get("conditions") or () if c.get("type") == cond["type"]), None)
            if prev and prev.get("status") == cond["status"]:
                cond.update(
                    lastTransitionTime=prev.get("lastTransitionTime"),
                    lastUpdateTime=prev.get("lastUpdateTime"),
                )
        status = {
            "observedGeneration": deploy["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, wanted - ready),
            "conditions": conds,
        }
        if status != old:
            self.core.store.put(self.rt, {**deploy, "status": status})
