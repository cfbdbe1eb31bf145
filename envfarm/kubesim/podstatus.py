"""Pod status shaped like a real kubelet's: phases, conditions, container statuses (pure)."""

from __future__ import annotations

import hashlib
from typing import Any

from envfarm.kubesim.objects import now

Obj = dict[str, Any]

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


def condition(ctype: str, status: bool, reason: str = "", message: str = "", stamp: str = "") -> Obj:
    out: Obj = {
        "type": ctype,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": stamp or now(),
    }
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def set_conditions(current: list[Obj] | None, *updates: Obj) -> list[Obj]:
    """Replace conditions by type, keeping lastTransitionTime when the status did not change."""
    by_type = {c["type"]: c for c in current or ()}
    for cond in updates:
        old = by_type.get(cond["type"])
        if old is not None and old.get("status") == cond["status"]:
            cond = {**cond, "lastTransitionTime": old.get("lastTransitionTime")}
        by_type[cond["type"]] = cond
    order = {t: i for i, t in enumerate(CONDITION_ORDER)}
    return sorted(by_type.values(), key=lambda c: order.get(c["type"], len(order)))


def with_status(pod: Obj, **changes: Any) -> Obj:
    """A new pod dict with status fields changed (sub-dicts are shared, never mutated)."""
    return {**pod, "status": {**(pod.get("status") or {}), **changes}}


def bind(pod: Obj, node: str) -> Obj:
    spec = {**pod["spec"], "nodeName": node}
    status = pod.get("status") or {}
    conds = set_conditions(status.get("conditions"), condition("PodScheduled", True))
    return {**pod, "spec": spec, "status": {**status, "conditions": conds}}


def unschedulable(pod: Obj, message: str) -> Obj:
    status = pod.get("status") or {}
    conds = set_conditions(
        status.get("conditions"), condition("PodScheduled", False, "Unschedulable", message)
    )
    return {**pod, "status": {**status, "phase": "Pending", "conditions": conds}}


def container_id(pod: Obj, name: str, restarts: int = 0) -> str:
    digest = hashlib.sha256(f"{pod['metadata'].get('uid')}/{name}/{restarts}".encode()).hexdigest()
    return f"containerd://{digest}"


def container_status(
    pod: Obj,
    container: Obj,
    state: Obj,
    *,
    ready: bool = False,
    restarts: int = 0,
    last_state: Obj | None = None,
) -> Obj:
    """One entry of status.containerStatuses."""
    image = str(container.get("image", ""))
    out: Obj = {
        "name": container["name"],
        "image": image if "/" in image else f"docker.io/library/{image}",
        "imageID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": restarts,
        "state": state,
        "lastState": last_state or {},
    }
    if "waiting" not in state:
        out["containerID"] = container_id(pod, container["name"], restarts)
        digest = hashlib.sha256(image.encode()).hexdigest()
        out["imageID"] = f"{out['image'].split(':')[0]}@sha256:{digest}"
    return out


def waiting(reason: str, message: str = "") -> Obj:
    body: Obj = {"reason": reason}
    if message:
        body["message"] = message
    return {"waiting": body}


def running(started: str) -> Obj:
    return {"running": {"startedAt": started}}


def terminated(exit_code: int, reason: str, started: str, message: str = "") -> Obj:
    body: Obj = {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": now()}
    if message:
        body["message"] = message
    return {"terminated": body}


def all_containers(
    pod: Obj, state: Obj, *, ready: bool = False, restarts: int = 0, last: Obj | None = None
) -> list[Obj]:
    return [
        container_status(pod, c, state, ready=ready, restarts=restarts, last_state=last)
        for c in pod["spec"].get("containers") or ()
    ]


def ready_conditions(pod: Obj, ready: bool, reason: str = "") -> list[Obj]:
    """Initialized/Ready/ContainersReady/PodReadyToStartContainers for a started pod."""
    why = "" if ready else (reason or "ContainersNotReady")
    msg = (
        ""
        if ready
        else "containers with unready status: ["
        + " ".join(c["name"] for c in pod["spec"].get("containers") or ())
        + "]"
    )
    return set_conditions(
        (pod.get("status") or {}).get("conditions"),
        condition("PodReadyToStartContainers", True),
        condition("Initialized", True),
        condition("Ready", ready, why, msg),
        condition("ContainersReady", ready, why, msg),
    )
