"""kubesim: a Kubernetes API simulator with simulated nodes, scheduler and kubelets (see DESIGN.md).

``async with KubeSim() as sim`` serves the API on a loopback port; ``sim.kubeconfig()`` points the
official client or kubectl at it. Only envfarm.models and envfarm.errors are imported from envfarm.
"""

from envfarm.kubesim.config import SimConfig
from envfarm.kubesim.faults import Faults
from envfarm.kubesim.images import ImageRule, ImageTable
from envfarm.kubesim.kubelet import KubeletConfig
from envfarm.kubesim.launcher import Launcher, LaunchSpec, RunningProcess, SubprocessLauncher
from envfarm.kubesim.nodes import NodeSpec
from envfarm.kubesim.sim import KubeSim

__all__ = [
    "Faults",
    "ImageRule",
    "ImageTable",
    "KubeSim",
    "KubeletConfig",
    "LaunchSpec",
    "Launcher",
    "NodeSpec",
    "RunningProcess",
    "SimConfig",
    "SubprocessLauncher",
]
