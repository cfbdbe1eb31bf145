"""Per-kind defaults and validation, as the API server's registry strategies apply them."""

from __future__ import annotations

import base64
import itertools
from typing import Any

from envfarm.errors import ApiError
from envfarm.kubesim.resources import ResourceType

Obj = dict[str, Any]

_cluster_ips = itertools.count(10)


def _invalid(obj: Obj, message: str) -> ApiError:
    return ApiError(
        f"{obj['kind']} {obj['metadata'].get('name')!r} is invalid: {message}", status=422, reason="Invalid"
    )


def _pull_policy(image: str) -> str:
    tag = image.rsplit("/", 1)[-1]
    return "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent"


def _container(c: Any, where: str, obj: Obj) -> Obj:
    if not isinstance(c, dict) or not c.get("name") or not c.get("image"):
        raise _invalid(obj, f"{where}: Required value: a container needs a name and an image")
    out = {
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": _pull_policy(str(c["image"])),
        "resources": {},
        **c,
    }
    if c.get("ports"):
        out["ports"] = [{"protocol": "TCP", **p} for p in c["ports"]]
    return out


def qos_class(spec: Obj) -> str:
    """BestEffort, Burstable or Guaranteed from the containers' requests and limits."""
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).keys() >= {"cpu", "memory"}
        and all((r.get("requests") or r["limits"]).get(k) == r["limits"][k] for k in ("cpu", "memory"))
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def pod_spec(spec: Any, obj: Obj, where: str = "spec") -> Obj:
    """Default a PodSpec (also used for the templates of Deployments)."""
    if not isinstance(spec, dict) or not spec.get("containers"):
        raise _invalid(obj, f"{where}.containers: Required value")
    out = {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "serviceAccountName": spec.get("serviceAccount", "default"),
        "securityContext": {},
        "enableServiceLinks": True,
        "priority": 0,
        **spec,
    }
    out["containers"] = [
        _container(c, f"{where}.containers[{i}]", obj) for i, c in enumerate(spec["containers"])
    ]
    if spec.get("initContainers"):
        out["initContainers"] = [
            _container(c, f"{where}.initContainers[{i}]", obj) for i, c in enumerate(spec["initContainers"])
        ]
    return out


def _pod(obj: Obj) -> Obj:
    spec = pod_spec(obj.get("spec"), obj)
    return {**obj, "spec": spec, "status": {"phase": "Pending", "qosClass": qos_class(spec)}}


def _namespace(obj: Obj) -> Obj:
    meta = obj["metadata"]
    labels = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
    return {
        **obj,
        "metadata": {**meta, "labels": labels},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _service(obj: Obj) -> Obj:
    spec = {"type": "ClusterIP", "sessionAffinity": "None", **(obj.get("spec") or {})}
    if "clusterIP" not in spec:
        n = next(_cluster_ips)
        spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
        spec["clusterIPs"] = [spec["clusterIP"]]
    return {**obj, "spec": spec, "status": {"loadBalancer": {}}}


def _deployment(obj: Obj) -> Obj:
    spec = dict(obj.get("spec") or {})
    if not spec.get("selector") or not spec.get("template"):
        raise _invalid(obj, "spec.selector and spec.template: Required value")
    template = dict(spec["template"])
    template["spec"] = pod_spec(template.get("spec"), obj, "spec.template.spec")
    spec.update(template=template)
    spec.setdefault("replicas", 1)
    spec.setdefault(
        "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    return {**obj, "spec": spec, "status": {}}


def _secret(obj: Obj) -> Obj:
    data = dict(obj.get("data") or {})
    for key, value in (obj.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out = {k: v for k, v in obj.items() if k != "stringData"}
    out.update(data=data, type=obj.get("type", "Opaque"))
    return out


def _crd(obj: Obj) -> Obj:
    spec = obj.get("spec") or {}
    names, group = spec.get("names") or {}, spec.get("group")
    if not group or not names.get("plural") or not names.get("kind") or not spec.get("versions"):
        raise _invalid(
            obj, "spec.group, spec.names.plural, spec.names.kind and spec.versions: Required value"
        )
    if obj["metadata"]["name"] != f"{names['plural']}.{group}":
        raise _invalid(obj, 'metadata.name: Invalid value: must be spec.names.plural+"."+spec.group')
    accepted = {"singular": names["kind"].lower(), "listKind": f"{names['kind']}List", **names}
    stored = [v["name"] for v in spec["versions"] if v.get("storage")] or [spec["versions"][0]["name"]]
    conditions = [
        {
            "type": t,
            "status": "True",
            "reason": r,
            "message": m,
            "lastTransitionTime": obj["metadata"]["creationTimestamp"],
        }
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    status = {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}
    return {**obj, "spec": {"scope": "Namespaced", **spec, "names": accepted}, "status": status}


_ON_CREATE = {
    "/pods": _pod,
    "/namespaces": _namespace,
    "/services": _service,
    "apps/deployments": _deployment,
    "/secrets": _secret,
    "apiextensions.k8s.io/customresourcedefinitions": _crd,
}
_KEEP_STATUS = {"/nodes", "/events"}


def on_create(rt: ResourceType, obj: Obj) -> Obj:
    """Apply the kind's defaults to a new object; status starts empty where the kind has a subresource."""
    if rt.has_status and rt.custom:
        obj = {k: v for k, v in obj.items() if k != "status"}
    elif rt.has_status and rt.key not in _KEEP_STATUS:
        obj = {**obj, "status": {}}
    hook = _ON_CREATE.get(rt.key)
    return hook(obj) if hook else obj


_MUTABLE_POD_FIELDS = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _pod_spec_shape(spec: Obj) -> Obj:
    out = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_FIELDS}
    for field in ("containers", "initContainers"):
        if field in out:
            out[field] = [{k: v for k, v in c.items() if k != "image"} for c in out[field]]
    return out


def on_update(rt: ResourceType, old: Obj, new: Obj) -> None:
    """Reject what the kind forbids to change (pod specs are mostly immutable)."""
    if rt.key == "/pods":
        new["spec"] = pod_spec(new.get("spec"), new)
        if _pod_spec_shape(new["spec"]) != _pod_spec_shape(old.get("spec") or {}):
            raise _invalid(
                new,
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) "
                "or `spec.terminationGracePeriodSeconds`",
            )
    elif rt.key == "apps/deployments":
        spec = dict(new.get("spec") or {})
        if spec.get("template"):
            spec["template"] = {**spec["template"], "spec": pod_spec(spec["template"].get("spec"), new)}
        new["spec"] = spec
    elif rt.key == "/secrets" and "stringData" in new:
        new.update(_secret(new))
