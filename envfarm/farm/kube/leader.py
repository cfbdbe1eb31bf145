"""Leader election on a coordination.k8s.io Lease: only the holder acts; the others wait and take over
once the holder stops renewing for ``duration_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from envfarm.errors import ApiError
from envfarm.farm.clock import parse_time
from envfarm.farm.kube.api import KubeApi

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def micro_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """``start()`` a thread that keeps ``is_leader`` true while this identity holds the Lease."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        identity: str,
        *,
        name: str = "envfarm-controller",
        duration_s: int = 15,
        renew_s: float = 2.0,
    ) -> None:
        self.api, self.identity = api, identity
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.name, self.duration_s, self.renew_s = name, duration_s, renew_s
        self.is_leader = threading.Event()
        self.stopping = threading.Event()
        self._lease: Obj | None = None
        self._renewed = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self.run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        self.is_leader.clear()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step(time.time())
            except (ApiError, OSError) as exc:
                log.info("leader election: %s", exc)
            if self.is_leader.is_set() and time.time() - self._renewed > self.duration_s:
                log.warning(
                    "%s: could not renew the lease in %ss: stepping down", self.identity, self.duration_s
                )
                self.is_leader.clear()
            self.stopping.wait(self.renew_s)

    def step(self, now: float) -> None:
        """One round: renew what we hold, take an expired lease, create a missing one."""
        lease = self._lease if self.is_leader.is_set() else None
        if lease is None:
            reply = self.api.call("GET", self.path, ok=(200, 404))
            if reply.status == 404:
                self._write("POST", self.collection, self._body(None, now), now)
                return
            lease = reply.body
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity", "")
        expires = parse_time(spec.get("renewTime")) + float(
            spec.get("leaseDurationSeconds") or self.duration_s
        )
        if holder == self.identity or not holder or now > expires:
            self._write("PUT", self.path, self._body(lease, now), now)
        else:
            self.is_leader.clear()

    def _body(self, lease: Obj | None, now: float) -> Obj:
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease else 0)
        spec.update(
            holderIdentity=self.identity, leaseDurationSeconds=self.duration_s, renewTime=micro_time(now)
        )
        meta: Obj = {"name": self.name}
        if lease is not None:
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def _write(self, method: str, path: str, body: Obj, now: float) -> None:
        reply = self.api.call(method, path, body=body, ok=(200, 201, 409))
        if reply.status in (200, 201):
            if not self.is_leader.is_set():
                log.info("%s: became the leader", self.identity)
            self._lease, self._renewed = reply.body, now
            self.is_leader.set()
        else:
            self._lease = None
            self.is_leader.clear()
