"""The Kubernetes backend of the controller: informers for RolloutJobs and env pods, raw writes through
the rate-limited :class:`~envfarm.farm.kube.api.KubeApi` on a bounded thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from envfarm.errors import ApiError
from envfarm.farm import names, podspec, resultlog
from envfarm.farm.clock import iso
from envfarm.farm.crd import API_VERSION, GROUP, KIND, PLURAL, VERSION
from envfarm.farm.kube.api import KubeApi, raise_for
from envfarm.farm.kube.informer import Informer
from envfarm.farm.podsandbox import RemoteSandbox
from envfarm.farm.slim import slim_pod
from envfarm.farm.tasks import TaskSource
from envfarm.farm.types import JobState, SlimPod
from envfarm.models.job import RolloutJobStatus, SampleResult
from envfarm.sandbox.protocol import Sandbox

log = logging.getLogger(__name__)
Obj = dict[str, Any]
JOB_META = (
    "name",
    "namespace",
    "uid",
    "generation",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
)


@dataclass
class KubeOptions:
    namespace: str = "default"
    runtime_image: str = "ghcr.io/envfarm/envfarm:0.1.0"
    inflight: int = 16
    identity: str = "envfarm-controller"
    budget_horizon_s: float = 0.25


def slim_job(raw: Obj) -> Obj:
    """A RolloutJob without managedFields, annotations or anything else the controller never reads."""
    meta = raw.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in JOB_META if k in meta},
        "spec": raw.get("spec") or {},
        "status": raw.get("status") or {},
    }


class KubeCluster:
    def __init__(self, api: KubeApi, tasks: TaskSource, options: KubeOptions) -> None:
        self.api, self.tasks, self.options = api, tasks, options
        ns = options.namespace
        self.pods_path = f"/api/v1/namespaces/{ns}/pods"
        self.jobs_path = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{PLURAL}"
        self.pool = ThreadPoolExecutor(max_workers=options.inflight, thread_name_prefix="kube-write")
        self.queued = 0
        self._lock = threading.Lock()
        self.tokens: dict[str, str] = {}
        self.job_informer: Informer[Obj] = Informer(api, self.jobs_path, slim_job, name="rolloutjobs")
        self.pod_informer: Informer[SlimPod] = Informer(
            api, self.pods_path, slim_pod, selector=names.ENV_SELECTOR, name="pods"
        )

    def start(self, notify: Callable[[], None]) -> KubeCluster:
        for informer in (self.job_informer, self.pod_informer):
            informer.notify = notify
            informer.start()
        return self

    def stop(self) -> None:
        self.job_informer.stop()
        self.pod_informer.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---- observe -------------------------------------------------------------------------------
    def synced(self) -> bool:
        return self.job_informer.synced.is_set() and self.pod_informer.synced.is_set()

    def jobs(self) -> list[Obj]:
        return self.job_informer.snapshot()

    def pods(self) -> list[SlimPod]:
        return self.pod_informer.snapshot()

    def budget(self) -> int:
        """Writes that may start now: the tokens there plus what refills within ``budget_horizon_s`` (a
        pass at 50k pods takes that long; a burst-sized budget per pass would leave tokens unused), less
        the writes already waiting for a token."""
        bucket = self.api.bucket
        ahead = int(bucket.qps * self.options.budget_horizon_s)
        return max(0, bucket.available() + ahead - self.queued)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            self.queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
        finally:
            with self._lock:
                self.queued -= 1

    # ---- writes --------------------------------------------------------------------------------
    async def prepare(self, job: JobState) -> None:
        """The job's runtime token: a Secret owned by the job (created once, read back after a restart)."""
        token = secrets.token_urlsafe(24)
        body = podspec.token_secret(job.name, job.namespace, job.uid, token)
        path = f"/api/v1/namespaces/{job.namespace}/secrets"
        reply = await self._run(lambda: self.api.call("POST", path, body=body, ok=(201, 409)))
        if reply.status == 409:
            got = await self._run(lambda: self.api.call("GET", f"{path}/{names.secret_name(job.name)}"))
            data = raise_for(got, f"secret of job {job.key}").get("data") or {}
            token = base64.b64decode(data.get(podspec.TOKEN_KEY, "")).decode()
        self.tokens[job.uid] = token

    async def create_pod(self, job: JobState, sample: int, attempt: int) -> bool:
        task_id, _ = job.task_of(sample)
        image = podspec.image_for(job.spec, self.tasks.image(task_id))
        env = podspec.EnvPod(
            job.name, job.namespace, job.uid, task_id, sample // job.spec.group_size, sample, attempt, image
        )
        body = podspec.env_pod(env, job.spec, self.options.runtime_image)
        try:
            reply = await self._run(lambda: self.api.call("POST", self.pods_path, body=body, ok=(201,)))
        except ApiError as exc:
            log.warning("creating %s failed: %s", body["metadata"]["name"], exc)
            return False
        if reply.status == 409 and reply.body.get("reason") == "AlreadyExists":
            return True  # a previous controller (or a retried request) made it: adopt
        if reply.status != 201:
            log.warning(
                "creating %s: %s %s", body["metadata"]["name"], reply.status, reply.body.get("message")
            )
        return bool(reply.status == 201)

    async def delete_pod(self, job: JobState | None, name: str) -> None:
        body = {"gracePeriodSeconds": podspec.GRACE_S, "propagationPolicy": "Background"}
        try:
            await self._run(
                lambda: self.api.call("DELETE", f"{self.pods_path}/{name}", body=body, ok=(200, 202, 404))
            )
        except ApiError as exc:
            log.warning("deleting pod %s failed: %s", name, exc)

    async def write_results(self, job: JobState, batch: dict[int, SampleResult]) -> bool:
        """Each chunk of the batch as a ConfigMap owned by the job (AlreadyExists: a retry, stored)."""
        path = f"/api/v1/namespaces/{job.namespace}/configmaps"
        now = time.time()
        for text in resultlog.chunks(resultlog.lines(job.uid, batch)):
            body = podspec.results_configmap(job.name, job.namespace, job.uid, text, now)
            try:
                reply = await self._run(partial(self.api.call, "POST", path, body=body, ok=(201, 409)))
            except ApiError as exc:
                log.warning("writing results of %s failed: %s", job.key, exc)
                return False
            if reply.status not in (201, 409):
                log.warning("writing results of %s: %s %s", job.key, reply.status, reply.body.get("message"))
                return False
        return True

    async def write_status(self, job: JobState, status: RolloutJobStatus) -> bool:
        patch = {"status": status_patch(status, job.recorded.status)}
        path = f"{self.jobs_path}/{job.name}/status"
        try:
            reply = await self._run(
                lambda: self.api.call(
                    "PATCH", path, body=patch, content_type="application/merge-patch+json", ok=(200,)
                )
            )
        except ApiError as exc:
            log.warning("writing the status of %s failed: %s", job.key, exc)
            return False
        return bool(reply.status == 200)

    async def delete_job(self, job: JobState) -> None:
        await self._run(lambda: self.api.call("DELETE", f"{self.jobs_path}/{job.name}", ok=(200, 202, 404)))

    async def emit(self, job: JobState, reason: str, message: str, warning: bool) -> None:
        now = iso(time.time())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{job.name}.", "namespace": job.namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": job.name,
                "namespace": job.namespace,
                "uid": job.uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": self.options.identity},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._run(
                lambda: self.api.call(
                    "POST",
                    f"/api/v1/namespaces/{job.namespace}/events",
                    body=body,
                    ok=(201,),
                )
            )
        except ApiError as exc:
            log.info("event %s on %s not recorded: %s", reason, job.key, exc)

    async def sandbox(self, job: JobState, pod: SlimPod) -> Sandbox:
        token = self.tokens.get(job.uid, "")
        return RemoteSandbox(f"http://{pod['ip']}:{podspec.RUNTIME_PORT}", token)


def status_patch(new: RolloutJobStatus, old: RolloutJobStatus | None) -> Obj:
    """A JSON merge patch turning ``old`` into ``new``: keys gone from maps are set to null."""
    body: Obj = new.model_dump(mode="json")
    if old is not None:
        for name in ("retries", "infra_failures"):
            gone = set(getattr(old, name)) - set(getattr(new, name))
            body[name] = {**body[name], **dict.fromkeys(gone)}
    return body
