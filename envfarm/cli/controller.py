"""`envfarm controller run`: the farm controller against a Kubernetes cluster (or kubesim).

The Deployment in k8s/ runs this with the in-cluster service account; ``--kubeconfig`` (or KUBECONFIG)
points it anywhere else. It reconciles the RolloutJobs of one namespace into env pods, within its own
API budget (``--qps``/``--burst``), and serves Prometheus metrics on ``--metrics-port``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from envfarm.cli.common import HomeOption, settings_for
from envfarm.farm.kube.policyenvs import cluster_runners
from envfarm.farm.kube.service import ServiceOptions, serve
from envfarm.farm.tasks import StoreTasks

app = typer.Typer(help="Run the farm controller (RolloutJobs -> env pods).", no_args_is_help=True)
log = logging.getLogger(__name__)
DEFAULT_RUNTIME_IMAGE = ServiceOptions().runtime_image


@app.command()
def run(
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="Cluster to use (default: in-cluster, then KUBECONFIG, ~/.kube/config)."
    ),
    namespace: str = typer.Option("default", "--namespace", "-n", help="Namespace whose jobs it runs."),
    qps: float = typer.Option(100.0, "--qps", help="API requests per second (token bucket)."),
    burst: int = typer.Option(200, "--burst", help="API requests it may save up."),
    inflight: int = typer.Option(16, "--inflight", min=1, help="API requests in flight at most."),
    metrics_port: int = typer.Option(9090, "--metrics-port", help="/metrics port (-1: none, 0: any)."),
    metrics_host: str = typer.Option("0.0.0.0", "--metrics-host", help="Address /metrics listens on."),
    runtime_image: str = typer.Option(
        DEFAULT_RUNTIME_IMAGE, "--runtime-image", help="envfarm image the env pods copy the runtime from."
    ),
    identity: str = typer.Option("", "--identity", help="Leader-election identity (default: POD_NAME)."),
    leader_elect: bool = typer.Option(
        True, "--leader-elect/--no-leader-elect", help="Act only while holding the Lease."
    ),
    home: str | None = HomeOption,
) -> None:
    """Reconcile RolloutJobs into env pods until SIGTERM."""
    settings = settings_for(home)
    tasks = StoreTasks(settings)
    options = ServiceOptions(
        kubeconfig=kubeconfig,
        namespace=namespace,
        qps=qps,
        burst=burst,
        inflight=inflight,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        runtime_image=runtime_image,
        leader_election=leader_elect,
    )
    if identity:
        options.identity = identity
    runners = cluster_runners(options, tasks, settings)  # hold, replay, policy (verification pods)
    log.info("controller for namespace %s, agents: %s", namespace, ", ".join(sorted(runners)))
    serve(options, tasks, runners)
