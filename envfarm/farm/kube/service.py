"""The controller as a service: API client, informers, leader election, metrics server, the loop.

``envfarm controller run`` calls :func:`serve`; tests and the benchmark use :class:`ControllerThread`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfarm.errors import ConfigError
from envfarm.farm.agents import AgentRunner
from envfarm.farm.controller import Controller, Options
from envfarm.farm.kube.api import KubeApi
from envfarm.farm.kube.cluster import KubeCluster, KubeOptions
from envfarm.farm.kube.leader import LeaderElector
from envfarm.farm.metrics import Metrics, MetricsServer
from envfarm.farm.ratelimit import TokenBucket
from envfarm.farm.tasks import TaskSource

log = logging.getLogger(__name__)


@dataclass
class ServiceOptions:
    kubeconfig: Path | None = None
    namespace: str = "default"
    qps: float = 100.0
    burst: int = 200
    inflight: int = 16
    metrics_port: int = -1  # -1: no metrics server; 0: any free port
    metrics_host: str = "0.0.0.0"
    identity: str = field(default_factory=lambda: os.environ.get("POD_NAME") or socket.gethostname())
    runtime_image: str = "ghcr.io/envfarm/envfarm:0.1.0"
    leader_election: bool = True
    lease_duration_s: int = 15
    renew_s: float = 2.0
    controller: Options = field(default_factory=Options)
    _bucket: TokenBucket | None = field(default=None, init=False, repr=False, compare=False)

    def bucket(self) -> TokenBucket:
        """The replica's one API budget (``--qps``, ``--burst``): the controller and the clients of its
        runners (verification pods) all draw from it, so the planner's budget sees their requests."""
        if self._bucket is None:
            self._bucket = TokenBucket(self.qps, self.burst)
        return self._bucket


def api_client(kubeconfig: Path | None) -> Any:
    """An official client: the kubeconfig given, else the in-cluster service account, else ~/.kube/config."""
    from kubernetes import config as k8s_config

    load: Any = k8s_config.new_client_from_config
    try:
        if kubeconfig is not None:
            return load(str(kubeconfig))
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            incluster: Any = k8s_config.load_incluster_config
            incluster()
            from kubernetes import client

            return client.ApiClient()
        return load(os.environ.get("KUBECONFIG") or None)
    except (k8s_config.ConfigException, OSError) as exc:
        raise ConfigError(f"no usable Kubernetes configuration: {exc}") from exc


class ControllerService:
    """Everything one controller replica runs."""

    def __init__(
        self, options: ServiceOptions, tasks: TaskSource, runners: Mapping[str, AgentRunner]
    ) -> None:
        self.options = options
        self.metrics = Metrics()
        self.api = KubeApi(
            api_client(options.kubeconfig),
            options.bucket(),
            inflight=options.inflight,
            on_request=self.metrics.request,
        )
        kube = KubeOptions(options.namespace, options.runtime_image, options.inflight, options.identity)
        self.cluster = KubeCluster(self.api, tasks, kube)
        self.metrics.queue_depth.set_function(lambda: float(self.cluster.queued))
        self.leader = LeaderElector(
            self.api,
            options.namespace,
            options.identity,
            duration_s=options.lease_duration_s,
            renew_s=options.renew_s,
        )
        self.controller = Controller(
            self.cluster,
            runners,
            tasks,
            options=options.controller,
            is_leader=self._is_leader,
            metrics=self.metrics,
        )
        self.server: MetricsServer | None = None

    def _is_leader(self) -> bool:
        leader = not self.options.leader_election or self.leader.is_leader.is_set()
        self.metrics.leader.set(1 if leader else 0)
        return leader

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        if self.options.metrics_port >= 0:
            self.server = MetricsServer(
                self.metrics, self.options.metrics_port, self.cluster.synced, self.options.metrics_host
            ).start()
        if self.options.leader_election:
            self.leader.start()

        def notify() -> None:
            loop.call_soon_threadsafe(self.controller.poke)

        self.cluster.start(notify)
        try:
            await self.controller.run(stop)
        finally:
            self.leader.stop()
            self.cluster.stop()
            if self.server is not None:
                self.server.stop()


def serve(options: ServiceOptions, tasks: TaskSource, runners: Mapping[str, AgentRunner]) -> None:
    """Run until SIGTERM/SIGINT."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await ControllerService(options, tasks, runners).run(stop)

    asyncio.run(main())


class ControllerThread:
    """A controller replica on its own event-loop thread: ``with ControllerThread(...) as c: ...``."""

    def __init__(
        self, options: ServiceOptions, tasks: TaskSource, runners: Mapping[str, AgentRunner]
    ) -> None:
        self.service = ControllerService(options, tasks, runners)
        self.loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="controller", daemon=True)
        self._started = threading.Event()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def body() -> None:
            self._stop = asyncio.Event()
            self._started.set()
            await self.service.run(self._stop)

        self.loop.run_until_complete(body())

    def start(self) -> ControllerThread:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        """Stop like a killed process would: no goodbye writes."""
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def __enter__(self) -> ControllerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
