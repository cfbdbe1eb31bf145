"""The API's verbs on stored objects: create, get, list, update, patch, delete (no HTTP here)."""

from __future__ import annotations

from typing import Any

import yaml

from envfarm.errors import ApiError
from envfarm.kubesim import jsonio, objects, patch
from envfarm.kubesim.gc import Lifecycle
from envfarm.kubesim.objects import not_found
from envfarm.kubesim.resources import Registry, ResourceType
from envfarm.kubesim.selectors import Requirement, match_fields, match_labels
from envfarm.kubesim.store import Obj, Store

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


class ApiCore:
    """Object verbs with the API server's semantics, shared by HTTP routes and built-in controllers."""

    def __init__(self, store: Store | None = None, registry: Registry | None = None) -> None:
        self.store = store or Store()
        self.registry = registry or Registry()
        self.lifecycle = Lifecycle(self.store, self.registry)
        self.ns_rt = self.registry.lookup("", "v1", "namespaces")

    def _check_namespace(self, rt: ResourceType, ns: str) -> None:
        if not rt.namespaced:
            return
        found = self.store.get(self.ns_rt, "", ns)
        if found is None:
            raise not_found(self.ns_rt, ns)
        if found["metadata"].get("deletionTimestamp"):
            raise ApiError(
                f"unable to create new content in namespace {ns} because it is being terminated",
                status=403,
                reason="Forbidden",
            )

    def create(self, rt: ResourceType, ns: str, body: Obj) -> Obj:
        obj = objects.prepare_create(rt, body, ns)
        self._check_namespace(rt, ns)
        name = obj["metadata"]["name"]
        if self.store.get(rt, ns, name) is not None:
            raise ApiError(f"{objects.what(rt, name)} already exists", status=409, reason="AlreadyExists")
        return self.store.put(rt, obj)

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(rt, ns, name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    def list_objects(
        self,
        rt: ResourceType,
        ns: str | None,
        labels: tuple[Requirement, ...] = (),
        fields: tuple[Requirement, ...] = (),
    ) -> list[Obj]:
        items = self.store.items(rt, ns)
        if labels:
            items = (o for o in items if match_labels(labels, o["metadata"].get("labels")))
        if fields:
            items = (o for o in items if match_fields(fields, o))
        return list(items)

    def update(self, rt: ResourceType, ns: str, name: str, body: Obj, subresource: str = "") -> Obj:
        old = self.get(rt, ns, name)
        objects.check_resource_version(rt, old, body)
        new = objects.prepare_update(rt, old, body, subresource)
        if new == old:
            return old
        return self.lifecycle.finish_if_done(rt, self.store.put(rt, new))

    def patch(
        self, rt: ResourceType, ns: str, name: str, body: bytes, content_type: str, subresource: str = ""
    ) -> Obj:
        ctype = content_type.split(";")[0].strip()
        old = self.store.get(rt, ns, name)
        if old is None:
            if ctype == APPLY:
                return self.create(rt, ns, _decode(body, ctype))
            raise not_found(rt, name)
        new = self._patched(rt, old, _decode(body, ctype), ctype)
        return self.update(rt, ns, name, new, subresource)

    @staticmethod
    def _patched(rt: ResourceType, old: Obj, doc: Any, ctype: str) -> Obj:
        if ctype == JSON_PATCH:
            new = patch.json_patch(old, doc)
        elif ctype == MERGE or (ctype == APPLY and rt.custom):
            new = patch.merge_patch(old, _object(doc))
        elif ctype in (STRATEGIC, APPLY):
            if rt.custom:
                raise ApiError(
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{JSON_PATCH}, {MERGE}, {APPLY}",
                    status=415,
                    reason="UnsupportedMediaType",
                )
            new = patch.strategic_merge_patch(old, _object(doc), rt.kind)
        else:
            raise ApiError(f"unsupported patch type {ctype!r}", status=415, reason="UnsupportedMediaType")
        if not isinstance(new, dict):
            raise objects.bad_request("the patch did not leave an object")
        wanted_rv = ((doc if isinstance(doc, dict) else {}).get("metadata") or {}).get("resourceVersion")
        if not wanted_rv:
            new["metadata"] = {
                **new.get("metadata", {}),
                "resourceVersion": old["metadata"]["resourceVersion"],
            }
        return new

    def delete(self, rt: ResourceType, ns: str, name: str, opts: dict[str, Any] | None = None) -> Obj:
        return self.lifecycle.delete(rt, ns, name, opts or {})

    def delete_collection(
        self,
        rt: ResourceType,
        ns: str | None,
        labels: tuple[Requirement, ...],
        fields: tuple[Requirement, ...],
        opts: dict[str, Any],
    ) -> list[Obj]:
        out: list[Obj] = []
        for obj in self.list_objects(rt, ns, labels, fields):
            meta = obj["metadata"]
            try:
                out.append(self.delete(rt, meta.get("namespace", ""), meta["name"], opts))
            except ApiError as exc:
                if exc.status != 404:
                    raise
        return out


def _object(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise objects.bad_request("the patch must be a JSON object")
    return doc


def _decode(body: bytes, ctype: str) -> Any:
    try:
        if ctype == APPLY:
            return yaml.safe_load(body)
        return jsonio.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise objects.bad_request(f"the request body is not valid: {exc}") from exc
