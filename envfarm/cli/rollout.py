"""`envfarm rollout run JOB.yaml | show ID | export OUT`: rollout jobs (locally, or on a cluster through its
controller with ``--kubeconfig``) and their records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from envfarm.agent.driver import RolloutDriver
from envfarm.agent.policies import build_policy
from envfarm.cli import jobs as jobs_cli
from envfarm.cli.common import HomeOption, open_store, settings_for
from envfarm.errors import FileFormatError, InputError, RecordError
from envfarm.farm import jobfile
from envfarm.farm.policyrunner import record_of
from envfarm.models.job import PolicyAgent, RolloutJob, SampleResult, TaskSelector
from envfarm.models.rollout import RolloutRecord, Turn
from envfarm.models.task import SweTask
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.limits import Limits
from envfarm.settings import Settings
from envfarm.store.records import RecordStore
from envfarm.store.tasks import TaskFilter, TaskStore
from envfarm.verify.grading import RewardPolicy
from envfarm.verify.tests import TestVerifier, VerifyOptions

app = typer.Typer(
    help="Run rollout jobs (agent episodes, verified) and read their records.", no_args_is_help=True
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
COLOURS = {"system": "bright_black", "user": "cyan", "assistant": "green", "tool": "yellow"}


def load_job(path: Path) -> RolloutJob:
    """A RolloutJob from YAML: the custom resource (apiVersion/kind/metadata/spec) or the model's shape."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FileFormatError(f"{path}: cannot read the job: {exc}") from exc
    if not isinstance(data, dict):
        raise RecordError("a job is a YAML mapping", source=str(path))
    if "metadata" in data:
        meta = data.get("metadata") or {}
        data = {
            "name": meta.get("name"),
            "namespace": meta.get("namespace", "default"),
            "spec": data.get("spec", {}),
        }
    try:
        return RolloutJob.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise RecordError(first["msg"], source=str(path), field=field) from exc


def select_tasks(store: TaskStore, selector: TaskSelector) -> list[SweTask]:
    if selector.ids:
        found = [store.get(i) for i in selector.ids]
    else:
        where = TaskFilter(repo=selector.repo, kind="swe", status=selector.status, text=selector.text)
        found = list(store.iter_tasks(where))
    tasks = [t for t in found if isinstance(t, SweTask)]
    return tasks[: selector.limit] if selector.limit else tasks


def verifier_options(job: RolloutJob) -> VerifyOptions:
    spec = job.spec.verifier
    if spec.kind != "tests":
        raise InputError(
            f"job {job.name}: spec.verifier.kind {spec.kind!r}: local rollouts grade with 'tests'"
        )
    policy = RewardPolicy.fraction if spec.partial_credit else RewardPolicy.binary
    return VerifyOptions(reruns=spec.reruns, timeout_s=float(spec.timeout_s), reward_policy=policy)


async def run_job(
    job: RolloutJob, tasks: list[SweTask], settings: Settings, *, unsafe: bool, base: Path
) -> tuple[RolloutDriver, int]:
    assert isinstance(job.spec.agent, PolicyAgent)
    agent = job.spec.agent
    wall = max(agent.wall_time_s, job.spec.verifier.timeout_s * job.spec.verifier.reruns) + 300
    envs = EnvManager(settings, limits=Limits(wall_time_s=wall), unsafe=unsafe)
    verifier = TestVerifier(envs, settings.artifacts_dir, verifier_options(job))
    policy = build_policy(agent, base=base)
    driver = RolloutDriver(job, envs=envs, verifier=verifier, policy=policy)
    stored = 0
    with RecordStore.open(settings) as records, Progress(console=err, transient=True) as bar:
        progress = bar.add_task(f"job {job.name}", total=len(tasks))
        try:
            async for group in driver.run(tasks):
                records.put_group(group)
                stored += 1
                bar.advance(progress)
        finally:
            await policy.aclose()
            for gid, reason in driver.stats.dropped.items():
                task_id = driver.stats.dropped_tasks[gid]
                records.drop_group(job=job.name, group_id=gid, task_id=task_id, reason=reason)
    return driver, stored


@app.command("run")
def run(
    job_file: Path = typer.Argument(..., help="The RolloutJob (YAML: custom resource or plain spec)."),
    unsafe: bool = typer.Option(
        False, "--unsafe", help="Run environments without bubblewrap (trusted only)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="Submit to this cluster; its controller runs the job."
    ),
    namespace: str = typer.Option("default", "--namespace", "-n", help="Cluster: the job's namespace."),
    wait: bool = typer.Option(False, "--wait", help="Cluster: wait for the end, print where records are."),
    timeout_s: float = typer.Option(86400, "--timeout", help="Cluster: seconds --wait waits at most."),
    home: str | None = HomeOption,
) -> None:
    """Run a job's rollouts: locally (groups of G per task, each verified in a fresh environment), or on
    a cluster through its controller (--kubeconfig)."""
    if kubeconfig is not None:
        _run_on_cluster(job_file, kubeconfig, namespace, wait=wait, timeout_s=timeout_s, as_json=as_json)
        return
    settings = settings_for(home)
    job = load_job(job_file)
    if not isinstance(job.spec.agent, PolicyAgent):
        raise InputError(f"{job_file}: spec.agent.kind must be 'policy' for `envfarm rollout run`")
    with open_store(home) as store:
        tasks = select_tasks(store, job.spec.tasks)
    if not tasks:
        raise InputError(f"{job_file}: spec.tasks selects no SWE task in the task store")
    driver, stored = asyncio.run(run_job(job, tasks, settings, unsafe=unsafe, base=job_file.parent))
    summary = _summary(job, settings, driver)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        _print_summary(summary)
    raise typer.Exit(0 if stored else 1)


def _run_on_cluster(
    path: Path, kubeconfig: Path, namespace: str, *, wait: bool, timeout_s: float, as_json: bool
) -> None:
    """Submit through `envfarm jobs submit`'s path; with --wait, where each rollout's record is."""
    obj = jobs_cli.submit_to_cluster(
        path, kubeconfig, namespace, wait=wait, timeout_s=timeout_s, kind="policy"
    )
    if obj is None:
        return
    status = jobfile.status_of(obj)
    results = jobs_cli.kube_jobs(kubeconfig, namespace).results(obj["metadata"]["name"])
    where = _records(results)
    if as_json:
        typer.echo(json.dumps({"job": obj["metadata"]["name"], "phase": status.phase.value, **where}))
    else:
        jobs_cli.show(obj, results)
        _print_records(where)
    raise typer.Exit(0 if status.phase.value == "Succeeded" and where["rollouts"] else 1)


def _records(results: list[SampleResult]) -> dict[str, Any]:
    """The record stores (on the controller's machine) and the rollout ids the results name."""
    found = [r for r in (record_of(res.reason) for res in results) if r is not None]
    return {
        "record_stores": sorted({db for _, db in found}),
        "rollouts": [rollout for rollout, _ in found],
    }


def _print_records(where: dict[str, Any]) -> None:
    if not where["rollouts"]:
        console.print("no rollout records (every sample ended as an infrastructure error)")
        return
    for db in where["record_stores"]:
        console.print(f"records: {escape(db)} (the controller's ENVFARM_HOME; `envfarm rollout show ID`)")
    console.print("rollouts: " + ", ".join(escape(r) for r in where["rollouts"]))


def _summary(job: RolloutJob, settings: Settings, driver: RolloutDriver) -> dict[str, Any]:
    with RecordStore.open(settings) as records:
        outcomes: dict[str, int] = {}
        for record in records.records(job=job.name):
            key = record.verdict.outcome.value if record.verdict else "unverified"
            outcomes[key] = outcomes.get(key, 0) + 1
    stats = driver.stats
    return {
        "job": job.name,
        "groups_completed": stats.groups_completed,
        "groups_dropped": stats.groups_dropped,
        "rollouts": stats.rollouts_completed,
        "redispatched": stats.redispatched,
        "infra_failures": dict(stats.infra_failures),
        "outcomes": outcomes,
        "dropped": stats.dropped,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(
        f"job [bold]{summary['job']}[/bold]: {summary['groups_completed']} groups complete, "
        f"{summary['groups_dropped']} dropped, {summary['rollouts']} rollouts, "
        f"{summary['redispatched']} re-dispatched"
    )
    console.print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())))
    for kind, count in summary["infra_failures"].items():
        console.print(f"  infrastructure failures ({kind}): {count}")
    for gid, reason in summary["dropped"].items():
        console.print(f"  [magenta]dropped[/magenta] {escape(gid)}: {escape(reason)}")


@app.command("show")
def show(
    rollout_id: str = typer.Argument(..., help="A rollout_id (see `envfarm rollout export`)."),
    full: bool = typer.Option(False, "--full", help="Print every line of long messages."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole record as JSON."),
    home: str | None = HomeOption,
) -> None:
    """Print one rollout's trajectory readably: turns, tool calls, observations, patch and verdict."""
    with RecordStore.open(settings_for(home)) as records:
        record = records.get(rollout_id)
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
        return
    _print_header(record)
    for index, turn in enumerate(record.turns):
        _print_turn(index, turn, full)
    console.rule("patch")
    console.print(escape(record.patch) if record.patch else "(empty)", highlight=False)


def _print_header(record: RolloutRecord) -> None:
    verdict = record.verdict
    outcome = f"{verdict.outcome} reward {verdict.reward}" if verdict else "not verified"
    t = record.timings
    console.print(f"[bold]{escape(record.rollout_id)}[/bold]  task {escape(record.task_id)}  {outcome}")
    console.print(
        f"  stop {record.stop_reason}{' (truncated)' if record.truncated else ''}, {record.steps} steps, "
        f"{record.attempts} attempt(s), policy {escape(record.policy_version)}"
    )
    console.print(
        f"  tokens: prompt {len(record.prompt_token_ids)}, response {len(record.response_token_ids)} "
        f"({sum(record.loss_mask)} sampled); time: generation {t.generation_s:.2f}s, environment "
        f"{t.environment_s:.2f}s, verification {t.verification_s:.2f}s"
    )
    if verdict and verdict.reason:
        console.print(f"  verdict: {escape(verdict.reason)}")


def _print_turn(index: int, turn: Turn, full: bool) -> None:
    colour = COLOURS.get(turn.role, "white")
    label = turn.role + (f" {turn.tool_name}" if turn.tool_name else "")
    if turn.exit_code is not None:
        label += f" exit {turn.exit_code}"
    if turn.error:
        label += f" [red]{turn.error}[/red]"
    console.rule(f"[{colour}]{index} {label}[/{colour}]", align="left")
    if turn.content:
        console.print(escape(_clip(turn.content, full)), highlight=False)
    for call in turn.tool_calls:
        console.print(f"[bold]→ {escape(call.name or '?')}[/bold] {escape(_clip(call.arguments, full))}")


def _clip(text: str, full: bool, lines: int = 30) -> str:
    parts = text.splitlines()
    if full or len(parts) <= lines:
        return text
    return "\n".join(parts[:lines]) + f"\n… {len(parts) - lines} more lines (--full)"


@app.command("export")
def export(
    out: Path = typer.Argument(..., help="Output file: .jsonl or .parquet."),
    job: str = typer.Option("", "--job", help="Only this job's records."),
    home: str | None = HomeOption,
) -> None:
    """Export rollout records (all fields) to JSONL or Parquet."""
    with RecordStore.open(settings_for(home)) as records:
        if out.suffix == ".parquet":
            count = records.export_parquet(out, job=job)
        elif out.suffix == ".jsonl":
            count = records.export_jsonl(out, job=job)
        else:
            raise InputError(f"{out}: export writes .jsonl or .parquet")
    console.print(f"{count} records written to {out}")
