"""`envfarm jobs submit|list|status|cancel|delete`: RolloutJobs on this machine (the embedded local
backend, the default) or on a cluster (``--kubeconfig``, where the deployed controller runs them)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from envfarm.cli.common import HomeOption, settings_for
from envfarm.errors import FileFormatError, InputError
from envfarm.farm import jobfile
from envfarm.farm.kube.api import KubeApi
from envfarm.farm.kube.jobsapi import KubeJobs
from envfarm.farm.kube.service import api_client
from envfarm.farm.local import LocalCluster
from envfarm.farm.localjobs import LocalJobs
from envfarm.farm.localrun import finished, run_local
from envfarm.farm.policyrunner import close_runners, farm_runners
from envfarm.farm.ratelimit import TokenBucket
from envfarm.farm.tasks import StoreTasks
from envfarm.models.job import RolloutJob, RolloutJobSpec, SampleResult
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.limits import Limits
from envfarm.settings import Settings

app = typer.Typer(
    help="Submit and follow RolloutJobs: locally (default) or on a cluster (--kubeconfig).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
Obj = dict[str, Any]
KubeconfigOption: Path | None = typer.Option(
    None, "--kubeconfig", help="Use this cluster (its deployed controller) instead of the local backend."
)
NamespaceOption: str = typer.Option("default", "--namespace", "-n", help="The cluster namespace.")
JsonOption: bool = typer.Option(False, "--json", help="Print the job object as JSON.")
SHOWN_RESULTS = 20


class Jobs(Protocol):
    def get(self, name: str) -> Obj: ...

    def list(self) -> list[Obj]: ...

    def cancel(self, name: str) -> bool: ...

    def delete(self, name: str) -> bool: ...

    def results(self, name: str) -> builtins.list[SampleResult]: ...


def kube_jobs(kubeconfig: Path, namespace: str) -> KubeJobs:
    return KubeJobs(KubeApi(api_client(kubeconfig), TokenBucket(20, 40), inflight=4), namespace)


def backend(kubeconfig: Path | None, namespace: str, home: str | None) -> Jobs:
    if kubeconfig is not None:
        return kube_jobs(kubeconfig, namespace)
    return LocalJobs(settings_for(home).home / "jobs")


def read_manifest(path: Path, namespace: str | None) -> RolloutJob:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FileFormatError(f"{path}: cannot read the job: {exc}") from exc
    return jobfile.parse_job(data, str(path), namespace=namespace)


# ---- commands -------------------------------------------------------------------------------------
@app.command()
def submit(
    path: Path = typer.Argument(..., help="A RolloutJob manifest (YAML)."),
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    wait: bool = typer.Option(False, "--wait", help="On a cluster: wait until the job has finished."),
    timeout_s: float = typer.Option(86400, "--timeout", help="Seconds --wait waits at most."),
    unsafe: bool = typer.Option(False, "--unsafe", help="Local: run envs without bubblewrap (trusted only)."),
    max_starting: int = typer.Option(4, "--max-starting", min=1, help="Local: env starts at a time."),
    home: str | None = HomeOption,
) -> None:
    """Submit a job. Locally it runs here until it ends (run it again to resume an interrupted one)."""
    if kubeconfig is not None:
        obj = submit_to_cluster(path, kubeconfig, namespace, wait=wait, timeout_s=timeout_s)
        if wait:
            _exit_with(obj, kube_jobs(kubeconfig, namespace))
        return
    settings = settings_for(home)
    last = asyncio.run(_run_locally(settings, read_manifest(path, None), unsafe, max_starting))
    _exit_with(last, LocalJobs(settings.home / "jobs"))


def submit_to_cluster(
    path: Path, kubeconfig: Path, namespace: str, *, wait: bool, timeout_s: float, kind: str = ""
) -> Obj | None:
    """Create the job on the cluster (its controller runs it); with ``wait``, its object once finished.
    ``kind``: the agent kind the caller requires ("" takes any)."""
    job = read_manifest(path, namespace)
    if kind and job.spec.agent.kind != kind:
        raise InputError(f"{path}: spec.agent.kind must be {kind!r} here, not {job.spec.agent.kind!r}")
    jobs = kube_jobs(kubeconfig, namespace)
    jobs.create(job)
    console.print(f"rolloutjob {namespace}/{job.name} created")
    if not wait:
        return None
    with _progress() as bar:
        return jobs.wait(job.name, timeout_s, on_status=bar.update_from)


async def _run_locally(settings: Settings, job: RolloutJob, unsafe: bool, max_starting: int) -> Obj | None:
    store = LocalJobs(settings.home / "jobs")
    existing = store.find(job.name)
    if existing is None:
        store.create(job)
    elif finished(existing):
        raise InputError(
            f"local job {job.name!r} has finished already: `envfarm jobs delete {job.name}` first"
        )
    else:
        console.print(f"resuming local job {job.name} (its recorded status is kept)")
    spec = RolloutJobSpec.model_validate((existing or store.get(job.name))["spec"])
    tasks = StoreTasks(settings)
    limits = Limits(wall_time_s=float(spec.env_deadline_s))
    envs = EnvManager(settings, limits=limits, unsafe=unsafe)
    cluster = LocalCluster(store, tasks, envs, max_starting=max_starting)
    runners = farm_runners(tasks, settings, lambda env: envs)  # policy: verified in a fresh env
    try:
        with _progress() as bar:
            last = await run_local(
                cluster, runners, tasks, [job.name], on_status=lambda name, obj: bar.update_from(obj)
            )
    finally:
        await close_runners(runners)
    return last[job.name]


@app.command("list")
def list_jobs(
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    home: str | None = HomeOption,
) -> None:
    """List jobs with their phase and counts."""
    table = Table(
        "name", "phase", "total", "succeeded", "failed", "infra", "running", "setup yield", "created"
    )
    for obj in backend(kubeconfig, namespace, home).list():
        row = jobfile.summary(obj)
        cells = [row[k] for k in ("name", "phase", "total", "succeeded", "failed", "infra_errors", "running")]
        ratio = "-" if row["setup_yield"] is None else f"{row['setup_yield']:.1%}"
        table.add_row(*(str(c) for c in cells), ratio, row["created"])
    console.print(table)


@app.command()
def status(
    name: str = typer.Argument(..., help="The job's name."),
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    as_json: bool = JsonOption,
    home: str | None = HomeOption,
) -> None:
    """Show a job's phase, counts, setup yield, infrastructure failures and its first per-sample results."""
    jobs = backend(kubeconfig, namespace, home)
    obj = jobs.get(name)
    if as_json:
        typer.echo(json.dumps(obj, indent=1))
    else:
        show(obj, jobs.results(name))


@app.command()
def results(
    name: str = typer.Argument(..., help="The job's name."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the JSON lines here, not to stdout."),
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    home: str | None = HomeOption,
) -> None:
    """Every finished sample's result (task_id, sample, outcome, reward, reason) as JSON lines, by sample
    index; samples of hold jobs have none."""
    rows = backend(kubeconfig, namespace, home).results(name)
    text = "".join(r.model_dump_json() + "\n" for r in rows)
    if out is None:
        typer.echo(text, nl=False)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    console.print(f"{len(rows)} results written to {escape(str(out))}")


@app.command()
def cancel(
    name: str = typer.Argument(..., help="The job's name."),
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    home: str | None = HomeOption,
) -> None:
    """Cancel a job (sets spec.suspend: no new envs; it ends as Cancelled)."""
    done = backend(kubeconfig, namespace, home).cancel(name)
    console.print(f"job {name} {'cancelled' if done else 'was finished or cancelled already'}")


@app.command()
def delete(
    name: str = typer.Argument(..., help="The job's name."),
    kubeconfig: Path | None = KubeconfigOption,
    namespace: str = NamespaceOption,
    home: str | None = HomeOption,
) -> None:
    """Delete a job's record (on a cluster its env pods go with it)."""
    gone = backend(kubeconfig, namespace, home).delete(name)
    console.print(f"job {name} {'deleted' if gone else 'did not exist'}")


# ---- output ---------------------------------------------------------------------------------------
def show(obj: Obj, results: list[SampleResult]) -> None:
    row, status = jobfile.summary(obj), jobfile.status_of(obj)
    ratio = "-" if status.setup_yield is None else f"{status.setup_yield:.1%}"
    console.print(f"[bold]{escape(row['name'])}[/bold]  {status.phase.value}  {escape(status.message)}")
    c = status.counts
    console.print(
        f"  total {status.total}: {c.succeeded} succeeded, {c.failed} failed, {c.infra_errors} infra errors, "
        f"{c.running} running, {c.pending} pending"
    )
    console.print(f"  setup yield {ratio} ({status.setup.up} of {status.setup.attempted} envs came up)")
    if status.infra_failures:
        failures = ", ".join(f"{k} {v}" for k, v in status.infra_failures.items())
        console.print(f"  infrastructure failures: {failures}")
    if results:
        table = Table("task", "sample", "outcome", "reward", "reason")
        for r in results[:SHOWN_RESULTS]:
            reward = "none" if r.reward is None else f"{r.reward:g}"
            table.add_row(escape(r.task_id), str(r.sample), r.outcome, reward, escape(r.reason[:80]))
        console.print(table)
    if len(results) > SHOWN_RESULTS:
        more = len(results) - SHOWN_RESULTS
        console.print(f"  ... {more} more: `envfarm jobs results {escape(row['name'])}` prints them all")


def _exit_with(obj: Obj | None, jobs: Jobs) -> None:
    if obj is None:
        console.print("the job was deleted when it finished (ttl_seconds_after_finished)")
        return
    show(obj, jobs.results(obj["metadata"]["name"]))
    if jobfile.status_of(obj).phase.value != "Succeeded":
        raise typer.Exit(1)


class _Bar:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("samples", total=None, phase="Pending")

    def update_from(self, obj: Obj) -> None:
        status = jobfile.status_of(obj)
        done = status.counts.succeeded + status.counts.failed + status.counts.infra_errors
        self.progress.update(self.task, total=status.total or None, completed=done, phase=status.phase.value)


@contextlib.contextmanager
def _progress() -> Iterator[_Bar]:
    columns = (TextColumn("{task.fields[phase]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress)
