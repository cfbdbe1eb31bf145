"""RolloutJob manifests (pure): a YAML/JSON mapping -> a checked custom-resource body, and back to a summary.

A manifest is the custom resource (``apiVersion``, ``kind``, ``metadata``, ``spec``) or the Python
model's own shape (``name``, ``namespace``, ``spec``). Errors name the file and the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from envfarm.errors import RecordError
from envfarm.farm.crd import API_VERSION, KIND
from envfarm.models.job import RolloutJob, RolloutJobSpec, RolloutJobStatus

Obj = dict[str, Any]


def parse_job(data: Any, source: str, *, namespace: str | None = None) -> RolloutJob:
    """The job a manifest describes; ``namespace`` (a CLI flag) overrides the manifest's."""
    if not isinstance(data, dict):
        raise RecordError("a RolloutJob manifest is a mapping", source=source)
    if "metadata" in data or "apiVersion" in data or "kind" in data:
        if data.get("kind", KIND) != KIND or data.get("apiVersion", API_VERSION) != API_VERSION:
            raise RecordError(f"not a {API_VERSION} {KIND}", source=source, field="kind")
        meta = data.get("metadata") or {}
        data = {
            "name": meta.get("name"),
            "namespace": meta.get("namespace", "default"),
            "spec": data.get("spec") or {},
        }
    if namespace:
        data = {**data, "namespace": namespace}
    try:
        return RolloutJob.model_validate({k: v for k, v in data.items() if k != "status"})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RecordError(first["msg"], source=source, field=".".join(str(p) for p in first["loc"])) from exc


def resource(job: RolloutJob) -> Obj:
    """The custom-resource body to create (no status: the controller owns it)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": job.name, "namespace": job.namespace},
        "spec": compact_spec(job.spec),
    }


def compact_spec(spec: RolloutJobSpec) -> Obj:
    """The spec without its defaults, but always with the agent's ``kind`` (the union's discriminator)."""
    body: Obj = spec.model_dump(mode="json", exclude_defaults=True)
    agent = spec.agent.model_dump(mode="json", exclude_defaults=True)
    body["agent"] = {"kind": spec.agent.kind, **agent}
    return body


def status_of(obj: Obj) -> RolloutJobStatus:
    """The status of a job object as the model (an empty one when there is none yet)."""
    try:
        return RolloutJobStatus.model_validate(obj.get("status") or {})
    except ValidationError as exc:
        name = (obj.get("metadata") or {}).get("name", "?")
        raise RecordError(f"job {name} has an unreadable status: {exc}", field="status") from exc


def summary(obj: Obj) -> Obj:
    """One row for `jobs list`: name, phase, counts, setup yield, age."""
    meta, status = obj.get("metadata") or {}, status_of(obj)
    c = status.counts
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "phase": status.phase.value,
        "total": status.total,
        "succeeded": c.succeeded,
        "failed": c.failed,
        "infra_errors": c.infra_errors,
        "running": c.running,
        "setup_yield": status.setup_yield,
        "created": meta.get("creationTimestamp", ""),
    }
