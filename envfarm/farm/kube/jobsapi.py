"""RolloutJobs on a cluster for the CLI: create, get, list, cancel (``spec.suspend``), delete, wait.

The same methods as :class:`~envfarm.farm.localjobs.LocalJobs`, so `envfarm jobs` treats both alike.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import Any

from envfarm.errors import ApiError, InputError, NotFoundError
from envfarm.farm import jobfile, names, podspec, resultlog
from envfarm.farm.book import FINISHED_PHASES
from envfarm.farm.crd import GROUP, PLURAL, VERSION
from envfarm.farm.kube.api import KubeApi, raise_for
from envfarm.models.job import RolloutJob, SampleResult

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


class KubeJobs:
    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self.path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"

    def _one(self, name: str) -> str:
        return f"{self.path}/{name}"

    def create(self, job: RolloutJob) -> Obj:
        body = jobfile.resource(job)
        body["metadata"]["namespace"] = self.namespace
        reply = self.api.call("POST", self.path, body=body, ok=(201,))
        if reply.status == 409:
            raise InputError(f"RolloutJob {self.namespace}/{job.name} exists already")
        if reply.status == 404:
            raise ApiError(
                f"the cluster has no {PLURAL}.{GROUP} resource: deploy it first (`kubectl apply -k k8s/`)",
                status=404,
            )
        return raise_for(reply, f"create RolloutJob {self.namespace}/{job.name}")

    def get(self, name: str) -> Obj:
        reply = self.api.call("GET", self._one(name), ok=(200, 404))
        if reply.status == 404:
            raise NotFoundError(f"no RolloutJob {self.namespace}/{name}")
        return reply.body

    def list(self) -> list[Obj]:
        body = raise_for(self.api.call("GET", self.path), f"list RolloutJobs in {self.namespace}")
        return list(body.get("items") or [])

    def results(self, name: str) -> builtins.list[SampleResult]:
        """Each finished sample's result from the job's result log (its ConfigMaps), by sample index."""
        uid = str(self.get(name)["metadata"].get("uid", ""))
        selector = f"{names.ROLE}={names.RESULTS_ROLE},{names.JOB}={names.label_value(name)}"
        path = f"/api/v1/namespaces/{self.namespace}/configmaps"
        chunks: list[tuple[float, str, str]] = []
        cont = ""
        while True:
            query = {"labelSelector": selector, "limit": "500", **({"continue": cont} if cont else {})}
            reply = self.api.call("GET", path, query=query)
            body = raise_for(reply, f"list the results of RolloutJob {name}")
            for item in body.get("items") or ():
                meta = item.get("metadata") or {}
                written = float((meta.get("annotations") or {}).get(names.WRITTEN_AT) or 0)
                text = (item.get("data") or {}).get(podspec.RESULTS_KEY, "")
                chunks.append((written, str(meta.get("name", "")), text))
            cont = str((body.get("metadata") or {}).get("continue") or "")
            if not cont:
                break
        chunks.sort()
        where = f"results of RolloutJob {self.namespace}/{name}"
        return resultlog.read((text for _, _, text in chunks), uid, where=where)

    def cancel(self, name: str) -> bool:
        obj = self.get(name)
        if (obj.get("status") or {}).get("phase") in FINISHED_PHASES or obj["spec"].get("suspend"):
            return False
        patch = {"spec": {"suspend": True}}
        raise_for(
            self.api.call("PATCH", self._one(name), body=patch, content_type=MERGE, ok=(200,)),
            f"cancel RolloutJob {self.namespace}/{name}",
        )
        return True

    def delete(self, name: str) -> bool:
        body = {"propagationPolicy": "Background"}
        reply = self.api.call("DELETE", self._one(name), body=body, ok=(200, 202, 404))
        return reply.status != 404

    def wait(
        self,
        name: str,
        timeout_s: float,
        *,
        poll_s: float = 1.0,
        on_status: Callable[[Obj], None] = lambda obj: None,
    ) -> Obj:
        """The job once its phase is final; an :class:`ApiError` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            obj = self.get(name)
            on_status(obj)
            if (obj.get("status") or {}).get("phase") in FINISHED_PHASES:
                return obj
            if time.monotonic() > deadline:
                raise ApiError(f"RolloutJob {self.namespace}/{name} not finished after {timeout_s:g}s")
            time.sleep(poll_s)
