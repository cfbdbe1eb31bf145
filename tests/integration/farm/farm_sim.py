"""A kubesim with the RolloutJob CRD installed, and helpers to submit and watch jobs (for the farm tests)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from envfarm.farm import crd
from envfarm.farm.agents import HoldRunner
from envfarm.farm.controller import Options
from envfarm.farm.kube.service import ControllerThread, ServiceOptions
from envfarm.farm.tasks import StoreTasks
from envfarm.kubesim import KubeletConfig
from envfarm.settings import Settings
from envfarm.testing.kubesim import KubeSimThread, raw_json

FAST = KubeletConfig(
    creating_s=0.05,
    start_s=0.05,
    jitter=0.1,
    terminate_s=0.05,
    crash_after_s=0.2,
    backoff_s=0.2,
    node_loss_eviction_s=0.5,
)


class Farm:
    """A kubesim with the CRD installed, and controllers started on it."""

    def __init__(self, ks: KubeSimThread, tmp: Path) -> None:
        self.ks, self.tmp = ks, tmp
        self.api = ks.api_client()
        self.tasks = StoreTasks(Settings.from_env(tmp / "home"))
        self.raw("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.build_crd())

    def raw(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One request; the test's own requests retry through injected 429s and 500s."""
        for _ in range(100):
            status, got = raw_json(self.api, method, path, body)
            if status not in (429, 500):
                return got
            time.sleep(0.05)
        raise AssertionError(f"{method} {path}: kept failing")

    def submit(self, name: str, total: int, *, seconds: float = 0.2, **spec: Any) -> None:
        body = {
            "apiVersion": crd.API_VERSION,
            "kind": crd.KIND,
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "tasks": {"ids": ["t"]},
                "group_size": total,
                "concurrency": total,
                "retry_backoff_s": 0.1,
                "agent": {"kind": "hold", "seconds": seconds},
                **spec,
            },
        }
        self.raw("POST", f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/default/{crd.PLURAL}", body)

    def status(self, name: str) -> dict[str, Any]:
        obj = self.raw("GET", f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/default/{crd.PLURAL}/{name}")
        assert obj.get("kind") == crd.KIND, str(obj)
        return obj.get("status") or {}

    def wait(self, name: str, timeout: float = 60.0, phase: str = "Succeeded") -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.status(name)
            if status.get("phase") == phase:
                return status
            time.sleep(0.1)
        raise AssertionError(f"job {name} not {phase} in {timeout}s: {self.status(name)}")

    def controller(
        self, identity: str = "c1", qps: float = 1000, burst: int = 200, **kw: Any
    ) -> ControllerThread:
        opts = ServiceOptions(
            kubeconfig=self.tmp / "kubeconfig",
            namespace="default",
            qps=qps,
            burst=burst,
            identity=identity,
            renew_s=0.2,
            lease_duration_s=2,
            controller=Options(status_interval_s=0.3),
            **kw,
        )
        return ControllerThread(opts, self.tasks, {"hold": HoldRunner()})

    def counters(self) -> list[dict[str, Any]]:
        return self.ks.call(lambda: self.ks.sim.counters.as_rows())

    def count(self, verb: str, resource: str, code: int | None = None) -> int:
        return sum(
            r["count"]
            for r in self.counters()
            if r["verb"] == verb and r["resource"] == resource and (code is None or r["code"] == code)
        )

    def pods(self) -> list[dict[str, Any]]:
        return self.raw("GET", "/api/v1/namespaces/default/pods").get("items", [])
