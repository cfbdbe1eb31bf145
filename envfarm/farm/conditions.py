"""A job's conditions from its phase (pure): Running, Complete, Failed, each with its transition time."""

from __future__ import annotations

from envfarm.models.job import Condition, JobPhase

TYPES = ("Running", "Complete", "Failed")


def wanted(phase: str) -> dict[str, bool]:
    return {
        "Running": phase == JobPhase.running.value,
        "Complete": phase == JobPhase.succeeded.value,
        "Failed": phase in (JobPhase.failed.value, JobPhase.cancelled.value),
    }


def conditions(phase: str, message: str, now_iso: str, previous: list[Condition]) -> list[Condition]:
    """The three conditions; a transition time moves only when a condition's status changes."""
    old = {c.type: c for c in previous}
    out = []
    for kind, on in wanted(phase).items():
        status = "True" if on else "False"
        before = old.get(kind)
        since = before.last_transition_time if before is not None and before.status == status else now_iso
        out.append(
            Condition(
                type=kind,
                status=status,
                reason=phase,
                message=message if on else "",
                last_transition_time=since,
            )
        )
    return out
