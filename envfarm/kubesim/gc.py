"""Deletion: grace periods, finalizers, owner-reference garbage collection, namespace and CRD cleanup."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from envfarm.errors import ApiError
from envfarm.kubesim.objects import conflict, not_found, now
from envfarm.kubesim.resources import Registry, ResourceType, crd_resource_types
from envfarm.kubesim.store import Event, Obj, Store

log = logging.getLogger(__name__)

ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"
Ref = tuple[str, str, str]  # (resource key, namespace, name)


def _pod_grace(obj: Obj, opts: dict[str, Any]) -> int:
    """Seconds a pod is given to stop: 0 when no kubelet runs it."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    grace = opts.get("gracePeriodSeconds")
    return int(spec.get("terminationGracePeriodSeconds", 30) if grace is None else grace)


class Lifecycle:
    """Deletes objects as the API server and its garbage collector do."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.dependents: dict[str, set[Ref]] = defaultdict(set)
        self._terminating: set[str] = set()
        self._sweep_pending = False
        store.listeners.append(self._on_event)

    def rt_of(self, key: str) -> ResourceType | None:
        group, _, plural = key.partition("/")
        return self.registry.find(group, plural)

    def delete(self, rt: ResourceType, ns: str, name: str, opts: dict[str, Any]) -> Obj:
        """Handle a DELETE: mark for deletion, or remove now when nothing holds the object."""
        obj = self.store.get(rt, ns, name)
        if obj is None:
            raise not_found(rt, name)
        self._check_preconditions(rt, obj, opts.get("preconditions") or {})
        meta = obj["metadata"]
        grace = _pod_grace(obj, opts) if rt.key == "/pods" else 0
        if meta.get("deletionTimestamp"):
            if grace < (meta.get("deletionGracePeriodSeconds") or 0):
                obj = self.store.put(rt, {**obj, "metadata": {**meta, "deletionGracePeriodSeconds": grace}})
            return self.finish_if_done(rt, obj)
        finalizers = list(meta.get("finalizers") or [])
        policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents") else "Background")
        extra = {"Orphan": ORPHAN, "Foreground": FOREGROUND}.get(policy)
        if extra and extra not in finalizers and self.dependents.get(meta["uid"]):
            finalizers.append(extra)
        if rt.key == "/namespaces":
            return self._delete_namespace(rt, obj)
        if not finalizers and grace == 0:
            return self.store.remove(rt, ns, name) or obj
        marked = {**meta, "deletionTimestamp": now(), "deletionGracePeriodSeconds": grace}
        if finalizers:
            marked["finalizers"] = finalizers
        obj = self.store.put(rt, {**obj, "metadata": marked})
        self._process_finalizers(rt, obj)
        return obj

    @staticmethod
    def _check_preconditions(rt: ResourceType, obj: Obj, pre: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(rt, meta["name"])
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise conflict(rt, meta["name"])

    def finish_if_done(self, rt: ResourceType, obj: Obj) -> Obj:
        """Remove an object marked for deletion once no finalizer and no grace period holds it."""
        meta = obj["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not meta.get("deletionGracePeriodSeconds")
        ):
            return self.store.remove(rt, meta.get("namespace", ""), meta["name"]) or obj
        return obj

    def _delete_namespace(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = {**obj["metadata"], "deletionTimestamp": now(), "deletionGracePeriodSeconds": 0}
        obj = self.store.put(rt, {**obj, "metadata": meta, "status": {"phase": "Terminating"}})
        self._terminating.add(meta["name"])
        for other in self.registry.all():
            if other.namespaced and self.registry.find(other.group, other.plural) is other:
                for item in list(self.store.items(other, meta["name"])):
                    self._delete_quietly(other, item)
        self._schedule_sweep()
        return obj

    def _delete_quietly(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        try:
            self.delete(rt, meta.get("namespace", ""), meta["name"], {"propagationPolicy": "Background"})
        except ApiError as exc:
            log.debug("gc: delete %s/%s: %s", rt.plural, meta["name"], exc)

    def _schedule_sweep(self) -> None:
        if not self._sweep_pending:
            self._sweep_pending = True
            asyncio.get_running_loop().call_soon(self._sweep_namespaces)

    def _sweep_namespaces(self) -> None:
        self._sweep_pending = False
        ns_rt = self.registry.lookup("", "v1", "namespaces")
        for ns in list(self._terminating):
            if not any(next(self.store.items(rt, ns), None) for rt in self.registry.all() if rt.namespaced):
                self._terminating.discard(ns)
                self.store.remove(ns_rt, "", ns)

    def _on_event(self, rt: ResourceType, event: Event) -> None:
        self._index(rt, event)
        meta = event.obj["metadata"]
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            self._on_crd(event)
        if event.type == "DELETED":
            if meta.get("namespace") in self._terminating:
                self._schedule_sweep()
            if self.dependents.get(meta["uid"]) or meta.get("ownerReferences"):
                asyncio.get_running_loop().call_soon(self._collect, meta["uid"], event.obj)

    def _index(self, rt: ResourceType, event: Event) -> None:
        if event.old is not None:
            for ref in event.old["metadata"].get("ownerReferences") or ():
                self.dependents[ref["uid"]].discard(_ref(rt, event.old))
        if event.type != "DELETED":
            for ref in event.obj["metadata"].get("ownerReferences") or ():
                self.dependents[ref["uid"]].add(_ref(rt, event.obj))

    def _on_crd(self, event: Event) -> None:
        spec = event.obj.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        if event.type == "DELETED":
            found = self.registry.find(group, plural)
            if found is not None:
                self.store.drop_bucket(found)
            self.registry.remove_group_plural(group, plural)
        else:
            for crt in crd_resource_types(event.obj):
                self.registry.add(crt)

    def _collect(self, uid: str, gone: Obj) -> None:
        """An object was removed: delete its orphaned dependents, wake foreground owners."""
        for key, ns, name in list(self.dependents.pop(uid, ())):
            rt = self.rt_of(key)
            dep = self.store.get(rt, ns, name) if rt else None
            if rt is None or dep is None:
                continue
            refs = [r for r in dep["metadata"].get("ownerReferences") or () if r["uid"] != uid]
            if refs and any(self._owner_exists(r, ns) for r in refs):
                self.store.put(rt, {**dep, "metadata": {**dep["metadata"], "ownerReferences": refs}})
            else:
                self._delete_quietly(rt, dep)
        for ref in gone["metadata"].get("ownerReferences") or ():
            self._wake_foreground_owner(ref, gone["metadata"].get("namespace", ""))

    def _owner_exists(self, ref: dict[str, Any], ns: str) -> bool:
        group = ref.get("apiVersion", "").rpartition("/")[0]
        rt = next((r for r in self.registry.all() if r.group == group and r.kind == ref.get("kind")), None)
        owner = self.store.get(rt, ns, ref.get("name", "")) if rt else None
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    def _wake_foreground_owner(self, ref: dict[str, Any], ns: str) -> None:
        group = ref.get("apiVersion", "").rpartition("/")[0]
        rt = next((r for r in self.registry.all() if r.group == group and r.kind == ref.get("kind")), None)
        owner = self.store.get(rt, ns, ref.get("name", "")) if rt else None
        if rt is not None and owner is not None:
            self._process_finalizers(rt, owner)

    def _process_finalizers(self, rt: ResourceType, obj: Obj) -> None:
        """Run the orphan and foregroundDeletion finalizers that the GC owns."""
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        deps = [d for d in self.dependents.get(meta["uid"], set()) if self.rt_of(d[0])]
        if ORPHAN in finalizers:
            for key, ns, name in deps:
                dep_rt = self.rt_of(key)
                dep = self.store.get(dep_rt, ns, name) if dep_rt else None
                if dep_rt and dep:
                    refs = [
                        r for r in dep["metadata"].get("ownerReferences") or () if r["uid"] != meta["uid"]
                    ]
                    self.store.put(dep_rt, {**dep, "metadata": {**dep["metadata"], "ownerReferences": refs}})
            finalizers.remove(ORPHAN)
        elif FOREGROUND in finalizers:
            live = [(self.rt_of(k), n, m) for k, n, m in deps]
            live = [(r, n, m) for r, n, m in live if r and self.store.get(r, n, m)]
            for dep_rt, ns, name in live:
                dep = self.store.get(dep_rt, ns, name) if dep_rt else None
                if dep_rt and dep and not dep["metadata"].get("deletionTimestamp"):
                    self._delete_quietly(dep_rt, dep)
            if live:
                return
            finalizers.remove(FOREGROUND)
        else:
            return
        obj = self.store.put(rt, {**obj, "metadata": {**meta, "finalizers": finalizers}})
        self.finish_if_done(rt, obj)


def _ref(rt: ResourceType, obj: Obj) -> Ref:
    meta = obj["metadata"]
    return (rt.key, meta.get("namespace", ""), meta["name"])
