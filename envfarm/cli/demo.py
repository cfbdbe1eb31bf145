"""`envfarm demo`: the main job on the embedded local backend, end to end on the bundled samples.

1. ingest the sample tasks into the task store;
2. build the sample repositories from their scripted histories and register them in the repo cache;
3. verify each sample task's gold patch and the empty patch in fresh bubblewrap environments;
4. harvest tasks from a sample repository's git history, validated in environments (funnel ledger);
5. print the task store's statistics.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from envfarm.cli.common import HomeOption, open_store, settings_for
from envfarm.cli.harvest import local_validator, run_harvest
from envfarm.cli.tasks import print_stats
from envfarm.errors import ConfigError
from envfarm.harvest import gitmine
from envfarm.harvest.filters import Decontamination, FilterConfig
from envfarm.models.task import SweTask
from envfarm.models.verdict import Verdict
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.repos import RepoCache
from envfarm.settings import Settings
from envfarm.store.ingest import ingest
from envfarm.testing.samples import build_sample, load_history, sample_names
from envfarm.verify.tests import TestVerifier, VerifyOptions

console = Console(soft_wrap=True)
HARVEST_SAMPLE = "textkit"


def bundled_tasks_dir() -> Path:
    """The repository's tasks/ folder (a source checkout; pass --tasks-dir elsewhere)."""
    return Path(__file__).resolve().parents[2] / "tasks"


def demo(
    tasks_dir: Path | None = typer.Option(
        None, "--tasks-dir", help="Folder of task files (default: tasks/)."
    ),
    harvest: bool = typer.Option(True, "--harvest/--no-harvest", help="Also harvest the textkit sample."),
    unsafe: bool = typer.Option(False, "--unsafe", help="Run without bubblewrap (trusted samples only)."),
    home: str | None = HomeOption,
) -> None:
    """Ingest, build, verify and harvest the bundled samples on the local backend."""
    settings = settings_for(home)
    folder = tasks_dir or bundled_tasks_dir()
    files = sorted(folder.glob("**/tasks.jsonl")) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"no tasks.jsonl under {folder}: run from a source checkout or pass --tasks-dir")
    console.rule("1. ingest the sample tasks")
    with open_store(home) as store:
        report = ingest(store, files)
    console.print(report.summary())
    for reject in report.rejects:
        console.print(f"[red]rejected[/red] {escape(str(reject))}", highlight=False)
    console.rule("2. build and register the sample repositories")
    built = build_samples(settings, folder / "samples")
    console.rule("3. verify gold and empty patches in fresh environments")
    bad = verify_samples(settings, unsafe)
    if harvest and HARVEST_SAMPLE in built:
        console.rule(f"4. harvest the {HARVEST_SAMPLE} sample's history")
        harvest_sample(settings, built[HARVEST_SAMPLE], folder / "samples", unsafe)
    console.rule("5. task store statistics")
    with open_store(home) as store:
        print_stats(store.stats())
    if report.rejects or bad:
        raise typer.Exit(1)


def build_samples(settings: Settings, samples_dir: Path) -> dict[str, Path]:
    """Build every sample repository (idempotent: SHAs are deterministic) and add it to the repo cache."""
    cache, built = RepoCache(settings.repos_dir), {}
    for name in sample_names(samples_dir):
        dest = settings.home / "samples" / name
        if dest.exists():
            shutil.rmtree(dest)
        labels = build_sample(name, dest, samples_dir)
        repo = str(load_history(name, samples_dir)["repo"])
        cache.add(repo, dest)
        built[name] = dest
        console.print(f"{repo}: {len(labels)} commits at {dest}")
    return built


def verify_samples(settings: Settings, unsafe: bool) -> int:
    """Gold must pass and the empty patch must not; returns how many verdicts disagreed."""
    cache = {r.repo for r in RepoCache(settings.repos_dir).list()}
    with open_store(str(settings.home)) as store:
        tasks = [t for t in store.iter_tasks() if isinstance(t, SweTask) and t.repo in cache]
    verifier = TestVerifier(EnvManager(settings, unsafe=unsafe), settings.artifacts_dir, VerifyOptions())
    table = Table("task", "patch", "outcome", "reward", "seconds", "expected")
    bad = 0
    for task in tasks:
        for label, patch, want in (("gold", task.patch, "pass"), ("empty", "", "fail")):
            start = time.perf_counter()
            verdict: Verdict = asyncio.run(verifier.verify(task, patch))
            ok = verdict.outcome.value == want
            bad += not ok
            reward = "none" if verdict.reward is None else f"{verdict.reward:g}"
            mark = "[green]yes[/green]" if ok else f"[red]no ({escape(verdict.reason)})[/red]"
            table.add_row(
                task.instance_id,
                label,
                verdict.outcome.value,
                reward,
                f"{time.perf_counter() - start:.1f}",
                mark,
            )
    console.print(table)
    return bad


def harvest_sample(settings: Settings, path: Path, samples_dir: Path, unsafe: bool) -> None:
    """Mine the sample's main and release branches, validate 3 runs per state, and show the funnel."""
    name = str(load_history(HARVEST_SAMPLE, samples_dir)["repo"])
    issues_file = samples_dir / HARVEST_SAMPLE / "issues.yaml"
    issues = gitmine.load_issues(issues_file) if issues_file.exists() else None
    found = gitmine.mine(path, name, refs=["main", "release-1.0"], issues=issues)
    report = run_harvest(
        found,
        gitmine.GitFiles(path),
        settings,
        config=FilterConfig(),
        decon=Decontamination(),
        validate=local_validator(settings, 3, unsafe),
        workers=2,
        source=f"git:{name}",
    )
    table = Table("candidate", "stage reached", "reason")
    for entry in report.entries:
        table.add_row(entry.key, entry.stage.value, entry.reason.value)
    console.print(table)
