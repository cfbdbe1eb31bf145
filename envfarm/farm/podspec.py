"""The env pod manifest (pure): the task image with envfarm's runtime injected and locked down.

An init container copies ``runtime.py`` from the envfarm image into an emptyDir; the task image's
python3 runs it as the main process on the pod IP. Readiness is the runtime's port answering. The pod
has no service-account token, no service links, runs as non-root with every capability dropped and
seccomp RuntimeDefault, dies at its active deadline and stops within a short grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envfarm.farm import names
from envfarm.farm.crd import API_VERSION, KIND
from envfarm.models.job import RolloutJobSpec

Obj = dict[str, Any]
RUNTIME_PORT = 8080
RUNTIME_DIR = "/envfarm"
RUNTIME_PATH = f"{RUNTIME_DIR}/runtime.py"
RUNTIME_SOURCE = "/opt/envfarm/runtime.py"  # where the envfarm image keeps the runtime
TOKEN_KEY = "token"
RESULTS_KEY = "results.jsonl"
USER_ID = 10001
GRACE_S = 2


@dataclass(frozen=True)
class EnvPod:
    """What varies from one env pod to the next."""

    job: str
    namespace: str
    job_uid: str
    task_id: str
    group: int
    sample: int
    attempt: int
    image: str
    workdir: str = "/testbed"


def image_for(spec: RolloutJobSpec, task_image: str) -> str:
    """The job's image, else the task's own, else the job's default."""
    return spec.image or task_image or spec.image_default


def restricted() -> Obj:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def init_container(runtime_image: str) -> Obj:
    return {
        "name": "install-runtime",
        "image": runtime_image,
        "command": ["cp", RUNTIME_SOURCE, RUNTIME_PATH],
        "volumeMounts": [{"name": "envfarm", "mountPath": RUNTIME_DIR}],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
        "securityContext": {**restricted(), "readOnlyRootFilesystem": True},
    }


def env_container(env: EnvPod, spec: RolloutJobSpec) -> Obj:
    res = {"cpu": spec.resources.cpu, "memory": spec.resources.memory}
    return {
        "name": "env",
        "image": env.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": ["python3", "-S", "-I", RUNTIME_PATH],
        "args": ["--host", "$(POD_IP)", "--port", str(RUNTIME_PORT), "--workspace", env.workdir],
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "ENVFARM_RUNTIME_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": names.secret_name(env.job), "key": TOKEN_KEY}},
            },
            {"name": "ENVFARM_TASK_ID", "value": env.task_id},
        ],
        "workingDir": env.workdir,
        "ports": [{"name": "runtime", "containerPort": RUNTIME_PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": RUNTIME_PORT}, "periodSeconds": 1, "failureThreshold": 3},
        "resources": {"requests": res, "limits": res},
        "volumeMounts": [{"name": "envfarm", "mountPath": RUNTIME_DIR, "readOnly": True}],
        "securityContext": restricted(),
    }


def env_pod(env: EnvPod, spec: RolloutJobSpec, runtime_image: str) -> Obj:
    """The whole Pod object for one env."""
    owner = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": env.job,
        "uid": env.job_uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": names.pod_name(env.job, env.sample, env.attempt),
            "namespace": env.namespace,
            "labels": names.env_labels(env.job, env.task_id, env.group, env.sample, env.attempt),
            "annotations": {names.TASK_ID: env.task_id},
            "ownerReferences": [owner],
        },
        "spec": {
            "restartPolicy": "Never",
            "enableServiceLinks": False,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": GRACE_S,
            "activeDeadlineSeconds": spec.env_deadline_s,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": USER_ID,
                "runAsGroup": USER_ID,
                "fsGroup": USER_ID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [init_container(runtime_image)],
            "containers": [env_container(env, spec)],
            "volumes": [{"name": "envfarm", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }


def results_configmap(job: str, namespace: str, job_uid: str, text: str, written_at: float) -> Obj:
    """One chunk of the job's result log (JSON lines; owned by the job, so it goes with it)."""
    owner = {"apiVersion": API_VERSION, "kind": KIND, "name": job, "uid": job_uid, "controller": True}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": names.results_name(job, text),
            "namespace": namespace,
            "ownerReferences": [owner],
            "labels": {
                names.MANAGED_BY: names.MANAGER,
                names.ROLE: names.RESULTS_ROLE,
                names.JOB: names.label_value(job),
                names.JOB_UID: names.label_value(job_uid),
            },
            "annotations": {names.WRITTEN_AT: f"{written_at:.6f}"},
        },
        "data": {RESULTS_KEY: text},
    }


def token_secret(job: str, namespace: str, job_uid: str, token: str) -> Obj:
    """The per-job Secret with the runtime token (owned by the job, so it goes with it)."""
    owner = {"apiVersion": API_VERSION, "kind": KIND, "name": job, "uid": job_uid, "controller": True}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": names.secret_name(job),
            "namespace": namespace,
            "ownerReferences": [owner],
            "labels": {names.MANAGED_BY: names.MANAGER, names.JOB: names.label_value(job)},
        },
        "type": "Opaque",
        "stringData": {TOKEN_KEY: token},
    }
