"""`envfarm kubesim serve`: a simulated Kubernetes cluster on a loopback port, for kubectl and controllers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer
from rich.console import Console

from envfarm.cli.common import HomeOption
from envfarm.kubesim import Faults, KubeletConfig, KubeSim, SimConfig
from envfarm.kubesim.kubelet import FAILURE_KINDS
from envfarm.kubesim.launcher import Launcher
from envfarm.sandbox.podlauncher import BwrapLauncher
from envfarm.settings import Settings

app = typer.Typer(help="Run kubesim, envfarm's Kubernetes API simulator.", no_args_is_help=True)
console = Console(soft_wrap=True)


def _config(
    nodes: int,
    pods_per_node: int,
    mode: str,
    failure_rate: float,
    failure_kinds: str,
    port: int,
    host: str,
    max_qps: float,
    normal_events: bool,
    work_dir: Path,
) -> SimConfig:
    kinds = tuple(k.strip() for k in failure_kinds.split(",") if k.strip())
    kubelet = KubeletConfig(failure_rate=failure_rate, failure_kinds=kinds, normal_events=normal_events)
    return SimConfig(
        host=host,
        port=port,
        nodes=nodes,
        pods_per_node=pods_per_node,
        mode=mode,
        kubelet=kubelet,
        faults=Faults(max_qps=max_qps),
        work_dir=work_dir if mode == "process" else None,
    ).validate()


async def _serve(config: SimConfig, kubeconfig: Path, launcher: Launcher | None) -> None:
    async with KubeSim(config, launcher=launcher) as sim:
        sim.write_kubeconfig(kubeconfig)
        console.print(f"kubesim serving {config.nodes} {config.mode} nodes at {sim.url}")
        console.print(f"kubeconfig written to {kubeconfig}; point kubectl at it with:")
        console.print(f"  export KUBECONFIG={kubeconfig}")
        console.print("  kubectl get nodes   (kubectl apply needs --validate=false: no OpenAPI is served)")
        console.print(
            f"faults: curl -X PUT {sim.url}/kubesim/faults -d '{{\"error_rate\": 0.1}}'; "
            f"counters: {sim.url}/kubesim/stats. Ctrl-C stops."
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


@app.command()
def serve(
    nodes: int = typer.Option(3, "--nodes", help="Simulated nodes."),
    pods_per_node: int = typer.Option(110, "--pods-per-node", help="Pod capacity of each node."),
    mode: str = typer.Option(
        "fake", "--mode", help="fake: KWOK-style kubelet; process: pods run as local processes."
    ),
    failure_rate: float = typer.Option(
        0.0, "--failure-rate", help="Share of pods given an injected failure (0-1)."
    ),
    failure_kinds: str = typer.Option(
        ",".join(KubeletConfig().failure_kinds),
        "--failure-kinds",
        help=f"Comma-separated, from: {', '.join(FAILURE_KINDS)}.",
    ),
    port: int = typer.Option(0, "--port", help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to listen on."),
    max_qps: float = typer.Option(
        0.0, "--max-qps", help="Requests/s before 429 with Retry-After (0: unlimited)."
    ),
    normal_events: bool = typer.Option(
        False, "--events/--no-events", help="Record Normal events (Scheduled, Started)."
    ),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", help="Where to write the kubeconfig."),
    sandbox: bool = typer.Option(
        True, "--sandbox/--no-sandbox", help="process mode: run each container in a bubblewrap sandbox."
    ),
    home: str | None = HomeOption,
) -> None:
    """Serve a simulated cluster until interrupted and write a kubeconfig for it."""
    settings = Settings.from_env(home)
    config = _config(
        nodes,
        pods_per_node,
        mode,
        failure_rate,
        failure_kinds,
        port,
        host,
        max_qps,
        normal_events,
        settings.home / "kubesim" / "work",
    )
    launcher = BwrapLauncher() if mode == "process" and sandbox else None
    asyncio.run(_serve(config, kubeconfig or settings.home / "kubesim" / "kubeconfig", launcher))
