"""Raw pod JSON -> :class:`~envfarm.farm.types.SlimPod`, with infrastructure failures classified (pure).

Only the fields the planner needs are kept (managedFields, spec and most of status are dropped), so a
tracked pod costs a few hundred bytes. A failure is named by :class:`~envfarm.models.job.InfraReason`:
image pull, unschedulable, OOM, runtime unreachable (crash, exit, lost), evicted (also node loss) or
deadline. A pod that is merely slow is not a failure; the planner's setup deadline catches it.
"""

from __future__ import annotations

import sys
from typing import Any

from envfarm.farm import names
from envfarm.farm.clock import parse_time
from envfarm.farm.types import SlimPod
from envfarm.models.job import InfraReason as R

Obj = dict[str, Any]
IMAGE_PULL = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
DETAIL_MAX = 200


def slim_pod(raw: Obj) -> SlimPod | None:
    """The slim pod, or None when the pod is not an env pod of ours (labels missing or garbled)."""
    meta = raw.get("metadata") or {}
    labels = meta.get("labels") or {}
    try:
        sample, attempt = int(labels[names.SAMPLE]), int(labels[names.ATTEMPT])
        job = f"{meta.get('namespace', '')}/{labels[names.JOB]}"
    except (KeyError, ValueError):
        return None
    status = raw.get("status") or {}
    ready_at = _ready_at(status)
    failure, detail = classify(status)
    owner = next((o.get("uid", "") for o in meta.get("ownerReferences") or () if o.get("controller")), "")
    return SlimPod(
        name=sys.intern(str(meta.get("name", ""))),
        uid=str(meta.get("uid", "")),
        owner=sys.intern(owner),
        job=sys.intern(job),
        sample=sample,
        attempt=attempt,
        phase=sys.intern(str(status.get("phase", "Pending"))),
        ready=ready_at > 0 and _ready(status),
        ready_at=ready_at,
        created=parse_time(meta.get("creationTimestamp")),
        ip=str(status.get("podIP") or ""),
        failure=failure,
        detail=detail[:DETAIL_MAX],
        unschedulable=_unschedulable(status),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _conditions(status: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in status.get("conditions") or ()}


def _ready(status: Obj) -> bool:
    return _conditions(status).get("Ready", {}).get("status") == "True"


def _ready_at(status: Obj) -> float:
    """When the pod first became Ready (0: not ready now and never seen ready)."""
    ready = _conditions(status).get("Ready")
    if ready is None or ready.get("status") != "True":
        lost = ready is not None and ready.get("reason") == "NodeLost"
        return parse_time(ready.get("lastTransitionTime")) if lost and ready else 0.0
    return parse_time(ready.get("lastTransitionTime")) or 1.0


def _unschedulable(status: Obj) -> bool:
    cond = _conditions(status).get("PodScheduled", {})
    return cond.get("status") == "False" and cond.get("reason") == "Unschedulable"


def classify(status: Obj) -> tuple[str, str]:
    """(InfraReason value, detail) for a pod that failed for an infrastructure reason, else ("", "")."""
    containers = [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]
    for check in (_evicted, _node_lost, _oom, _image, _deadline, _crashed, _ended):
        found = check(status, containers)
        if found is not None:
            return found
    return "", ""


Found = tuple[str, str] | None


def _evicted(status: Obj, _: list[Obj]) -> Found:
    target = _conditions(status).get("DisruptionTarget", {})
    if status.get("reason") == "Evicted" or target.get("status") == "True":
        return R.evicted.value, str(status.get("message") or target.get("message") or "evicted")
    return None


def _node_lost(status: Obj, _: list[Obj]) -> Found:
    ready = _conditions(status).get("Ready", {})
    if ready.get("status") != "True" and ready.get("reason") == "NodeLost":
        return R.evicted.value, "node lost: " + str(ready.get("message") or "node not ready")
    return None


def _oom(status: Obj, containers: list[Obj]) -> Found:
    for c in containers:
        for state in (c.get("state") or {}, c.get("lastState") or {}):
            if (state.get("terminated") or {}).get("reason") == "OOMKilled":
                return R.oom.value, f"container {c.get('name')} OOMKilled"
    return None


def _image(status: Obj, containers: list[Obj]) -> Found:
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in IMAGE_PULL:
            return R.image_pull.value, f"{waiting['reason']}: {waiting.get('message', '')}"
    return None


def _deadline(status: Obj, _: list[Obj]) -> Found:
    if status.get("reason") == "DeadlineExceeded":
        return R.deadline.value, str(status.get("message") or "activeDeadlineSeconds reached")
    return None


def _crashed(status: Obj, containers: list[Obj]) -> Found:
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "CreateContainerError", "RunContainerError"):
            return R.runtime_unreachable.value, f"{waiting['reason']}: {waiting.get('message', '')}"
        if int(c.get("restartCount") or 0) > 0:
            return R.runtime_unreachable.value, f"container {c.get('name')} restarted"
    return None


def _ended(status: Obj, containers: list[Obj]) -> Found:
    phase = status.get("phase")
    if phase not in ("Succeeded", "Failed"):
        return None
    for c in containers:
        term = (c.get("state") or {}).get("terminated")
        if term:
            return (
                R.runtime_unreachable.value,
                f"runtime exited {term.get('exitCode')} ({term.get('reason', '')})",
            )
    return R.runtime_unreachable.value, f"pod {phase}"
