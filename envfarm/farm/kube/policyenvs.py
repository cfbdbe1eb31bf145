"""What the ``policy`` runner needs from a Kubernetes cluster: fresh env pods to verify in, and Secrets.

A verification pod is the sample's env pod manifest with a name of its own, managed by
``envfarm-verifier`` and labelled ``envfarm.dev/purpose: verify``. It keeps the role ``env``, so the
NetworkPolicy of env pods isolates it (it runs an untrusted patch), while the controller's informer
(managed by ``envfarm-controller`` only) never shows it to the planner. It is owned by the job
(garbage-collected with it), dies at the job's env deadline like every env pod, and the runner deletes
it as soon as the verdict is in. Its runtime is reached at the pod IP with the job's runtime
token (read from the job's Secret), exactly like the env pod's. An API key named by ``api_key_secret``
is read from the Secret in the job's namespace.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from envfarm.errors import ApiError, ConfigError, EnvfarmError, SandboxError
from envfarm.farm import names, podspec
from envfarm.farm.agents import AgentRunner, EnvHandle
from envfarm.farm.crd import GROUP, PLURAL, VERSION
from envfarm.farm.kube.api import KubeApi, raise_for
from envfarm.farm.kube.service import ServiceOptions, api_client
from envfarm.farm.local import EnvProvider
from envfarm.farm.podsandbox import RemoteSandbox
from envfarm.farm.policyrunner import farm_runners
from envfarm.farm.slim import slim_pod
from envfarm.farm.tasks import TaskSource
from envfarm.models.job import RolloutJobSpec, SecretRef
from envfarm.models.task import SweTask
from envfarm.sandbox.protocol import Sandbox
from envfarm.settings import Settings

log = logging.getLogger(__name__)
Obj = dict[str, Any]
VERIFIER = "envfarm-verifier"
PURPOSE = names.PREFIX + "purpose"
MAX_POLL_S = 2.0


def verify_pod_name(job: str, sample: int, attempt: int) -> str:
    """``<job>-<index>-<attempt>-v<random>``: never an env pod's name, never reused (<= 63 chars)."""
    tail = f"-{sample}-{attempt}-v{secrets.token_hex(3)}"
    stem = job
    if len(stem) + len(tail) > names.MAX_NAME:
        digest = hashlib.sha256(job.encode()).hexdigest()[:6]
        stem = f"{job[: names.MAX_NAME - len(tail) - 7].rstrip('-')}-{digest}"
    return stem + tail


def verify_pod(pod: podspec.EnvPod, spec: RolloutJobSpec, runtime_image: str) -> Obj:
    """The verification pod's manifest (pure): the env pod's, renamed and relabelled."""
    body = podspec.env_pod(pod, spec, runtime_image)
    body["metadata"]["name"] = verify_pod_name(pod.job, pod.sample, pod.attempt)
    labels = body["metadata"]["labels"]
    labels[names.MANAGED_BY] = VERIFIER  # not the controller's: its informer never lists the pod
    labels[PURPOSE] = "verify"
    del labels[names.GROUP]  # the handle knows the sample's index in its group, not the group's
    return body


class ClusterEnvs:
    """Verification pods and Secrets of one namespace's jobs, through the raw API (in threads)."""

    def __init__(self, api: KubeApi, tasks: TaskSource, runtime_image: str, *, poll_s: float = 0.25) -> None:
        self.api, self.tasks, self.runtime_image, self.poll_s = api, tasks, runtime_image, poll_s

    def fresh(self, env: EnvHandle) -> EnvProvider:
        return VerifyPods(self, env)

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        return await asyncio.to_thread(lambda: self.api.call(method, path, **kw))

    async def secret(self, namespace: str, ref: SecretRef) -> str:
        """The value of ``ref`` (a Secret key in ``namespace``)."""
        path = f"/api/v1/namespaces/{namespace}/secrets/{ref.name}"
        reply = await self.call("GET", path, ok=(200, 404))
        if reply.status == 404:
            raise ConfigError(f"agent.api_key_secret: no Secret {namespace}/{ref.name}")
        value = (raise_for(reply, f"Secret {namespace}/{ref.name}").get("data") or {}).get(ref.key)
        if value is None:
            raise ConfigError(f"agent.api_key_secret: Secret {namespace}/{ref.name} has no key {ref.key!r}")
        return base64.b64decode(value).decode()

    async def job_uid(self, namespace: str, name: str) -> str:
        """Read each time: a job deleted and made again under its name has a new uid (and token)."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"
        body = raise_for(await self.call("GET", path), f"RolloutJob {namespace}/{name}")
        return str((body.get("metadata") or {}).get("uid", ""))

    async def token(self, namespace: str, job: str) -> str:
        ref = SecretRef(name=names.secret_name(job), key=podspec.TOKEN_KEY)
        try:
            return await self.secret(namespace, ref)
        except ConfigError as exc:
            raise SandboxError(f"the runtime token of job {namespace}/{job}: {exc}") from exc


class VerifyPods:
    """The :class:`EnvProvider` of one sample: each ``up`` is a new verification pod."""

    def __init__(self, owner: ClusterEnvs, env: EnvHandle) -> None:
        self.owner, self.env = owner, env
        self.namespace, _, self.job = env.job.rpartition("/")
        self.pods: dict[int, str] = {}  # id(sandbox) -> pod name

    async def up(self, task: SweTask) -> Sandbox:
        try:
            body = await self._body(task)
        except ApiError as exc:
            raise SandboxError(f"verification pod of {self.env.job}: {exc}") from exc
        name = body["metadata"]["name"]
        try:
            sandbox = await self._start(body)
        except asyncio.CancelledError:
            await self._delete(name)
            raise
        except (EnvfarmError, OSError, TimeoutError) as exc:
            await self._delete(name)
            raise SandboxError(f"verification pod {name}: {exc}") from exc
        self.pods[id(sandbox)] = name
        return sandbox

    async def down(self, env: Sandbox) -> None:
        await env.stop()
        name = self.pods.pop(id(env), None)
        if name is not None:
            await self._delete(name)

    async def _body(self, task: SweTask) -> Obj:
        uid = await self.owner.job_uid(self.namespace, self.job)
        image = podspec.image_for(self.env.spec, self.owner.tasks.image(task.instance_id))
        pod = podspec.EnvPod(
            self.job, self.namespace, uid, task.instance_id, 0, self.env.sample, self.env.attempt, image
        )
        return verify_pod(pod, self.env.spec, self.owner.runtime_image)

    async def _start(self, body: Obj) -> Sandbox:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        raise_for(await self.owner.call("POST", path, body=body, ok=(201,)), f"create {path}")
        ip = await self._ready(body["metadata"]["name"])
        token = await self.owner.token(self.namespace, self.job)
        sandbox = RemoteSandbox(f"http://{ip}:{podspec.RUNTIME_PORT}", token)
        try:
            await sandbox.start()
        except BaseException:
            await sandbox.stop()  # its connection pool; the caller deletes the pod
            raise
        return sandbox

    async def _ready(self, name: str) -> str:
        """The pod's IP once it is Ready; a SandboxError when it failed or missed the setup deadline."""
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        deadline = time.monotonic() + self.env.spec.setup_timeout_s
        wait = self.owner.poll_s
        while time.monotonic() < deadline:
            pod = slim_pod(raise_for(await self.owner.call("GET", path), f"pod {name}"))
            if pod is not None and pod["failure"]:
                raise SandboxError(f"{pod['failure']}: {pod['detail']}")
            if pod is not None and pod["ready"] and pod["ip"]:
                return pod["ip"]
            await asyncio.sleep(wait)
            wait = min(wait * 1.5, MAX_POLL_S)  # a few reads per pod, however long it takes
        raise SandboxError(f"not ready {self.env.spec.setup_timeout_s}s after creation")

    async def _delete(self, name: str) -> None:
        body = {"gracePeriodSeconds": podspec.GRACE_S, "propagationPolicy": "Background"}
        path = f"/api/v1/namespaces/{self.namespace}/pods/{name}"
        try:
            await self.owner.call("DELETE", path, body=body, ok=(200, 202, 404))
        except ApiError as exc:
            log.warning("deleting verification pod %s failed: %s", name, exc)


def cluster_runners(
    options: ServiceOptions,
    tasks: TaskSource,
    settings: Settings,
    *,
    make_api: Callable[[ServiceOptions], KubeApi] | None = None,
) -> dict[str, AgentRunner]:
    """The runners `envfarm controller run` gives the controller: hold, replay, and policy with
    verification pods and Secrets of this cluster (a client of its own, drawing from the replica's one
    API budget, with at most half its requests in flight)."""
    api = (make_api or _api)(options)
    envs = ClusterEnvs(api, tasks, options.runtime_image)
    return farm_runners(tasks, settings, envs.fresh, secrets=envs.secret)


def _api(options: ServiceOptions) -> KubeApi:
    return KubeApi(api_client(options.kubeconfig), options.bucket(), inflight=max(1, options.inflight // 2))
