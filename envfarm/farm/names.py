"""Deterministic names and labels of env pods (pure).

A pod's name is a function of (job, sample, attempt): a controller that restarts, or two that race,
create the same name, and the API server's AlreadyExists makes the create idempotent.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "envfarm.dev/"
JOB, TASK, GROUP, SAMPLE, ATTEMPT, ROLE = (
    PREFIX + k for k in ("job", "task", "group", "sample", "attempt", "role")
)
TASK_ID = PREFIX + "task-id"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "envfarm-controller"
ENV_ROLE = "env"
RESULTS_ROLE = "results"
JOB_UID = PREFIX + "job-uid"
WRITTEN_AT = PREFIX + "written-at"
ENV_SELECTOR = f"{ROLE}={ENV_ROLE},{MANAGED_BY}={MANAGER}"
MAX_NAME = 63
_BAD = re.compile(r"[^a-z0-9-]+")
_BAD_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def pod_name(job: str, sample: int, attempt: int) -> str:
    """``<job>-<sample>-<attempt>``; a long job name is cut and given a short hash (<= 63 characters)."""
    tail = f"-{sample}-{attempt}"
    stem = job
    if len(stem) + len(tail) > MAX_NAME:
        stem = f"{job[: MAX_NAME - len(tail) - 7].rstrip('-')}-{_digest(job)}"
    return stem + tail


def secret_name(job: str) -> str:
    """The per-job Secret holding the runtime token."""
    stem = job if len(job) <= MAX_NAME - 8 else f"{job[:48].rstrip('-')}-{_digest(job)}"
    return f"{stem}-runtime"


def results_name(job: str, content: str) -> str:
    """A ConfigMap of the job's result log, named by its content: a retried create is AlreadyExists."""
    stem = job if len(job) <= MAX_NAME - 19 else f"{job[:37].rstrip('-')}-{_digest(job)}"
    return f"{stem}-results-{_digest(content, 10)}"


def label_value(text: str) -> str:
    """A valid label value (<= 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)."""
    clean = _BAD_LABEL.sub("-", text).strip("-_.")
    if len(clean) > MAX_NAME or clean != text:
        clean = f"{clean[:55].rstrip('-_.')}-{_digest(text)}".lstrip("-_.")
    return clean or _digest(text)


def env_labels(job: str, task_id: str, group: int, sample: int, attempt: int) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        ROLE: ENV_ROLE,
        JOB: label_value(job),
        TASK: label_value(task_id),
        GROUP: str(group),
        SAMPLE: str(sample),
        ATTEMPT: str(attempt),
    }


def dns_label(text: str) -> str:
    """A DNS-1123 label made from any text (for names derived from task ids)."""
    clean = _BAD.sub("-", text.lower()).strip("-")[:MAX_NAME]
    return clean or _digest(text)
