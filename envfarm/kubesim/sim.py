"""KubeSim: the API server, scheduler, kubelets and controllers in one asyncio object."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from envfarm.kubesim.config import SimConfig
from envfarm.kubesim.control import install_controls
from envfarm.kubesim.core import ApiCore
from envfarm.kubesim.deployments import DeploymentController
from envfarm.kubesim.events import EventRecorder
from envfarm.kubesim.fakekubelet import FakeKubelet
from envfarm.kubesim.faults import Counters
from envfarm.kubesim.images import ImageTable
from envfarm.kubesim.kubelet import BaseKubelet
from envfarm.kubesim.nodes import NodeSpec, node_object
from envfarm.kubesim.procs import Launcher, ProcessKubelet
from envfarm.kubesim.routes import Router
from envfarm.kubesim.scheduler import Scheduler
from envfarm.kubesim.server import ApiServer
from envfarm.kubesim.store import Store
from envfarm.kubesim.watch import WatchHub

log = logging.getLogger(__name__)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class KubeSim:
    """A simulated cluster on a loopback port: ``async with KubeSim() as sim: sim.kubeconfig()``."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        launcher: Launcher | None = None,
        images: ImageTable | None = None,
        **overrides: Any,
    ) -> None:
        self.config = replace(config or SimConfig(), **overrides).validate()
        self.store = Store(window=self.config.watch_window)
        self.core = ApiCore(self.store)
        self.faults = self.config.faults
        self.counters = Counters()
        self.recorder = EventRecorder(
            self.store, self.core.registry, normal=self.config.kubelet.normal_events
        )
        self.scheduler = Scheduler(self.store, self.core.registry, self.recorder)
        self.kubelet: BaseKubelet = self._kubelet(launcher, images)
        self.hub = WatchHub(
            self.store, self.faults, self.config.bookmark_interval_s, self.config.max_watch_timeout_s
        )
        assert isinstance(self.kubelet, FakeKubelet | ProcessKubelet)
        self.router = Router(self.core, self.hub, self.faults, self.counters, self.kubelet)
        self.server = ApiServer(self.router, self.config.host, self.config.port)
        install_controls(self)
        self.deployments = DeploymentController(self.core) if self.config.deployment_controller else None
        self._tasks: list[asyncio.Task[None]] = []

    def _kubelet(self, launcher: Launcher | None, images: ImageTable | None) -> BaseKubelet:
        cfg = self.config
        if cfg.mode == "process":
            return ProcessKubelet(
                self.core,
                self.recorder,
                cfg.kubelet,
                lambda _: True,
                launcher=launcher,
                images=images,
                work_dir=cfg.work_dir,
            )
        return FakeKubelet(self.core, self.recorder, cfg.kubelet, lambda _: True)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> KubeSim:
        for ns in SYSTEM_NAMESPACES:
            self.core.create(self.core.ns_rt, "", {"metadata": {"name": ns}})
        for i in range(self.config.nodes):
            self.add_node(
                NodeSpec(
                    f"kubesim-node-{i}",
                    self.config.node_cpu,
                    self.config.node_memory,
                    self.config.pods_per_node,
                ),
                i,
            )
        await self.server.start()
        if isinstance(self.kubelet, ProcessKubelet):
            path = self.write_kubeconfig(self.kubelet.work_dir / "kubeconfig")
            self.kubelet.api_env = {
                "KUBERNETES_SERVICE_HOST": self.config.host,
                "KUBERNETES_SERVICE_PORT": str(self.server.http.port),
                "KUBECONFIG": str(path),
            }
        self._tasks.append(asyncio.create_task(self.scheduler.run(), name="kubesim-scheduler"))
        if self.deployments is not None:
            self._tasks.append(asyncio.create_task(self.deployments.run(), name="kubesim-deployments"))
        log.info("kubesim serving on %s", self.url)
        return self

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.kubelet.shutdown()
        await self.server.close()

    async def __aenter__(self) -> KubeSim:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ---- access ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    def kubeconfig(self, namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig dict pointing at this simulator (plain HTTP on loopback, any token accepted)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubesim", "cluster": {"server": self.url}}],
            "users": [{"name": "kubesim", "user": {"token": "kubesim"}}],
            "contexts": [
                {
                    "name": "kubesim",
                    "context": {"cluster": "kubesim", "user": "kubesim", "namespace": namespace},
                }
            ],
            "current-context": "kubesim",
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace), sort_keys=False))
        return path

    # ---- cluster operations ---------------------------------------------------------------------
    def add_node(self, spec: NodeSpec, index: int | None = None) -> None:
        nodes_rt = self.core.registry.lookup("", "v1", "nodes")
        obj = node_object(spec, self.store.count(nodes_rt) if index is None else index)
        self.core.create(nodes_rt, "", obj)

    def drop_watches(self) -> int:
        """Cut every open watch connection (clients must resume from their last resourceVersion)."""
        return self.hub.drop_all()

    def lose_node(self, name: str) -> None:
        self.kubelet.lose_node(name)

    def restore_node(self, name: str) -> None:
        self.kubelet.restore_node(name)
