"""Kubernetes timestamps <-> epoch seconds (pure)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float:
    """Epoch seconds of an RFC 3339 timestamp; 0.0 for none or garbage."""
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def ready_since(ready_at: float, now: float) -> float:
    """The latest moment a pod can have become ready, so that a hold measured from it is never cut short.

    Kubernetes writes ``lastTransitionTime`` in whole seconds: the pod became ready in
    ``[ready_at, ready_at + 1)``, and no later than ``now`` (when it was seen ready). A pod with no
    transition time (``ready_at`` <= 1, the unknown marker) counts from ``now``.
    """
    if ready_at <= 1.0:
        return now
    return min(now, ready_at + 1.0)
