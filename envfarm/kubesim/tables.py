"""Server-side printing: the meta.k8s.io Table that ``kubectl get`` asks for."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from envfarm.kubesim.resources import ResourceType
from envfarm.kubesim.selectors import field_value

Obj = dict[str, Any]
Column = tuple[str, int, Callable[[Obj], Any]]  # (name, priority, cell)


def age(obj: Obj) -> str:
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    secs = max(0, int(time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size * 2:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def pod_status(pod: Obj) -> str:
    """The STATUS column of ``kubectl get pods``."""
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    if status.get("reason"):
        return str(status["reason"])
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or (state.get("terminated") or {}).get("reason")
        if reason:
            return str(reason)
    return str(status.get("phase", "Pending"))


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    total = len((pod.get("spec") or {}).get("containers") or ())
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _restarts(pod: Obj) -> int:
    return sum(
        int(c.get("restartCount", 0)) for c in (pod.get("status") or {}).get("containerStatuses") or ()
    )


def _node_status(node: Obj) -> str:
    ready = [c for c in (node.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"]
    text = "Ready" if ready and ready[0].get("status") == "True" else "NotReady"
    return text + (",SchedulingDisabled" if (node.get("spec") or {}).get("unschedulable") else "")


def _ports(svc: Obj) -> str:
    ports = (svc.get("spec") or {}).get("ports") or ()
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _involved(event: Obj) -> str:
    kind = str(field_value(event, "involvedObject.kind")).lower()
    return f"{kind}/{field_value(event, 'involvedObject.name')}"


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


COLUMNS: dict[str, list[Column]] = {
    "/pods": [
        ("Name", 0, _name),
        ("Ready", 0, _pod_ready),
        ("Status", 0, pod_status),
        ("Restarts", 0, _restarts),
        ("Age", 0, age),
        ("IP", 1, lambda o: (o.get("status") or {}).get("podIP", "<none>")),
        ("Node", 1, lambda o: (o.get("spec") or {}).get("nodeName", "<none>")),
    ],
    "/nodes": [
        ("Name", 0, _name),
        ("Status", 0, _node_status),
        ("Roles", 0, lambda o: "<none>"),
        ("Age", 0, age),
        ("Version", 0, lambda o: field_value(o, "status.nodeInfo.kubeletVersion")),
    ],
    "/namespaces": [
        ("Name", 0, _name),
        ("Status", 0, lambda o: field_value(o, "status.phase")),
        ("Age", 0, age),
    ],
    "apps/deployments": [
        ("Name", 0, _name),
        (
            "Ready",
            0,
            lambda o: f"{field_value(o, 'status.readyReplicas') or 0}/{field_value(o, 'spec.replicas')}",
        ),
        ("Up-to-date", 0, lambda o: int(field_value(o, "status.updatedReplicas") or 0)),
        ("Available", 0, lambda o: int(field_value(o, "status.availableReplicas") or 0)),
        ("Age", 0, age),
    ],
    "/services": [
        ("Name", 0, _name),
        ("Type", 0, lambda o: field_value(o, "spec.type")),
        ("Cluster-IP", 0, lambda o: field_value(o, "spec.clusterIP")),
        ("External-IP", 0, lambda o: "<none>"),
        ("Port(s)", 0, _ports),
        ("Age", 0, age),
    ],
    "/events": [
        ("Last Seen", 0, lambda o: age({"metadata": {"creationTimestamp": o.get("lastTimestamp")}})),
        ("Type", 0, lambda o: o.get("type", "")),
        ("Reason", 0, lambda o: o.get("reason", "")),
        ("Object", 0, _involved),
        ("Message", 0, lambda o: o.get("message", "")),
    ],
}


def _path_cell(path: str) -> Callable[[Obj], Any]:
    def cell(obj: Obj) -> Any:
        return field_value(obj, path.lstrip("."))

    return cell


def _columns(rt: ResourceType) -> list[Column]:
    if rt.key in COLUMNS:
        return COLUMNS[rt.key]
    extra: list[Column] = [(name, 0, _path_cell(path)) for name, path in rt.printer_columns]
    return [("Name", 0, _name), *extra, ("Age", 0, age)]


def table(rt: ResourceType, items: list[Obj], list_meta: Obj) -> Obj:
    """A Table of ``items`` with each row carrying its full object."""
    cols = _columns(rt)
    definitions = [
        {
            "name": n,
            "type": "string",
            "format": "name" if n == "Name" else "",
            "description": "",
            "priority": p,
        }
        for n, p, _ in cols
    ]
    rows = [{"cells": [cell(o) for _, _, cell in cols], "object": o} for o in items]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
