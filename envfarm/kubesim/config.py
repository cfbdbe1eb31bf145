"""kubesim's settings: cluster shape, kubelet mode and delays, faults, watch window."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from envfarm.errors import ConfigError
from envfarm.kubesim.faults import Faults
from envfarm.kubesim.kubelet import FAILURE_KINDS, KubeletConfig

MODES = ("fake", "process")


@dataclass
class SimConfig:
    """Everything a :class:`~envfarm.kubesim.sim.KubeSim` is built from."""

    host: str = "127.0.0.1"
    port: int = 0
    nodes: int = 3
    node_cpu: str = "32"
    node_memory: str = "128Gi"
    pods_per_node: int = 110
    mode: str = "fake"
    kubelet: KubeletConfig = field(default_factory=KubeletConfig)
    faults: Faults = field(default_factory=Faults)
    watch_window: int = 10_000  # events kept per resource for watches to resume from; older: 410 Gone
    bookmark_interval_s: float = 1.0
    max_watch_timeout_s: float = 1800.0
    deployment_controller: bool = True
    work_dir: Path | None = None  # process mode: logs and working directories

    def validate(self) -> SimConfig:
        """Reject settings kubesim cannot honour, naming the field."""
        try:
            loopback = self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"kubesim host {self.host!r}: kubesim only listens on loopback (127.0.0.0/8)")
        if self.mode not in MODES:
            raise ConfigError(f"kubesim mode {self.mode!r}: choose one of {MODES}")
        if self.nodes < 0 or self.pods_per_node < 1:
            raise ConfigError("kubesim nodes must be >= 0 and pods_per_node >= 1")
        if self.watch_window < 1:
            raise ConfigError("kubesim watch_window must be >= 1")
        unknown = set(self.kubelet.failure_kinds) - set(FAILURE_KINDS)
        if unknown:
            raise ConfigError(f"kubesim failure kinds {sorted(unknown)} unknown; known: {FAILURE_KINDS}")
        if not 0 <= self.kubelet.failure_rate <= 1:
            raise ConfigError("kubesim failure_rate must be within [0, 1]")
        return self
