"""`envfarm harvest`: turn git history or GitHub pull requests into validated tasks, with a funnel ledger."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from envfarm.cli.common import HomeOption, settings_for
from envfarm.errors import ConfigError
from envfarm.harvest import ghsource, gitmine
from envfarm.harvest.candidate import Candidate
from envfarm.harvest.filters import Decontamination, FilterConfig
from envfarm.harvest.ghclient import DEFAULT_BASE, GitHubClient
from envfarm.harvest.kit import verify_kit
from envfarm.harvest.ledger import PIPELINE_VERSION, funnel, reached
from envfarm.harvest.ledgerdb import HarvestDB
from envfarm.harvest.pipeline import Checked, FilesAt, Harvester, HarvestReport, Validate, default_workers
from envfarm.harvest.validate import local_validator
from envfarm.models.task import SweTask, parse_task
from envfarm.settings import Settings
from envfarm.store.tasks import TaskStore

__all__ = ["app", "local_validator", "run_harvest", "verify_kit"]  # the demo and bench/ reuse these
app = typer.Typer(help="Harvest tasks from git history or GitHub.", no_args_is_help=True)
console = Console(stderr=True)


RAY_OBJECT_STORE_BYTES = 256 * 1024**2  # validations pass small records: keep embedded Ray's store small


def _run_validation(validate: Validate, task: SweTask) -> Checked:
    return validate(task)


def ray_validate(validate: Validate, address: str | None) -> Validate:
    """Run each validation as a Ray task: on the cluster at ``address``, else on an embedded local Ray."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'envfarm[ray]'") from None
    if address:
        ray.init(address=address, ignore_reinit_error=True)
    else:
        ray.init(
            ignore_reinit_error=True, include_dashboard=False, object_store_memory=RAY_OBJECT_STORE_BYTES
        )
    remote = ray.remote(_run_validation)
    shared = ray.put(validate)
    return lambda task: ray.get(remote.remote(shared, task))


def load_decontamination(paths: list[Path]) -> Decontamination:
    decon = Decontamination()
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                decon.add(str(record["instance_id"]), str(record["repo"]), str(record.get("patch", "")))
    return decon


def run_harvest(
    candidates: Iterable[Candidate],
    files_at: FilesAt,
    settings: Settings,
    *,
    config: FilterConfig,
    decon: Decontamination,
    validate: Validate | None,
    workers: int,
    source: str,
) -> HarvestReport:
    db = HarvestDB(settings.home / "harvest.db")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        job = bar.add_task("harvesting", total=None)
        counts: dict[str, int] = {}

        def tick(what: str, n: int) -> None:
            counts[what] = counts.get(what, 0) + n
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            bar.update(job, description=f"harvesting: {shown}")

        harvester = Harvester(db=db, files_at=files_at, config=config, decon=decon, validate=validate,
                              workers=workers, source=source, progress=tick)  # fmt: skip
        report = harvester.run(candidates)
    db.close()
    with TaskStore(settings.task_db) as store:
        for task in report.tasks:
            store.upsert(parse_task(task.model_dump(mode="json")), source_file=f"harvest:{source}")
    console.print(
        f"{report.seen} candidates, {report.skipped} already done, {len(report.tasks)} tasks stored"
    )
    return report


def _filter_config(allow_unknown_licence: bool, require_issue: bool) -> FilterConfig:
    return FilterConfig(allow_unknown_licence=allow_unknown_licence, require_issue=require_issue)


@app.command("git")
def harvest_git(
    path: Path = typer.Argument(..., exists=True, file_okay=False, help="A local clone."),
    name: str = typer.Option("", "--name", help="OWNER/NAME of the repository (default: local/<folder>)."),
    refs: list[str] = typer.Option(["HEAD"], "--ref", help="Refs to mine (repeat: main, release branches)."),
    since: str | None = typer.Option(None, "--since", help="Only commits after this date."),
    limit: int | None = typer.Option(None, "--limit", help="At most this many commits per ref."),
    issues: Path | None = typer.Option(None, "--issues", help="YAML/JSON list of issues for statements."),
    validate: bool = typer.Option(True, "--validate/--no-validate", help="Run the three test states."),
    runs: int = typer.Option(3, "--runs", min=1, help="Runs per state."),
    workers: int = typer.Option(default_workers(), "--workers", min=1),
    ray: bool = typer.Option(False, "--ray", help="Run validations as Ray tasks."),
    ray_address: str | None = typer.Option(None, "--ray-address"),
    allow_unknown_licence: bool = typer.Option(False, "--allow-unknown-licence"),
    require_issue: bool = typer.Option(False, "--require-issue"),
    decontaminate: list[Path] = typer.Option([], "--decontaminate", help="JSONL of benchmark instances."),
    unsafe: bool = typer.Option(False, "--unsafe", help="Run without bubblewrap (trusted repos only)."),
    home: str | None = HomeOption,
) -> None:
    """Mine a local clone: merge commits, squash merges and single fix commits."""
    settings = settings_for(home)
    repo_name = name or f"local/{path.resolve().name}"
    check = None
    if validate:
        from envfarm.sandbox.repos import RepoCache

        RepoCache(settings.repos_dir).add(repo_name, path)
        check = local_validator(settings, runs, unsafe)
        check_fn: Validate = ray_validate(check, ray_address) if ray else check
    known = gitmine.load_issues(issues) if issues else None
    found = gitmine.mine(path, repo_name, refs=refs, since=since, limit=limit, issues=known)
    config = _filter_config(allow_unknown_licence, require_issue)
    run_harvest(found, gitmine.GitFiles(path), settings, config=config,
                decon=load_decontamination(decontaminate), validate=check_fn if check else None,
                workers=workers, source=f"git:{repo_name}")  # fmt: skip


@app.command("github")
def harvest_github(
    repos: list[str] = typer.Argument(None, help="OWNER/REPO ..."),
    repos_file: Path | None = typer.Option(None, "--repos-file", help="One OWNER/REPO a line."),
    search: str | None = typer.Option(
        None, "--search", help='A GitHub search, e.g. "language:python stars:>500".'
    ),
    search_limit: int = typer.Option(100, "--search-limit"),
    base_url: str = typer.Option(
        DEFAULT_BASE, "--base-url", envvar="GITHUB_API_URL", help="Enterprise: https://HOST/api/v3"
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most this many PRs per repository."),
    timeline: bool = typer.Option(True, "--timeline/--no-timeline", help="Link issues by timeline events."),
    allow_unknown_licence: bool = typer.Option(False, "--allow-unknown-licence"),
    decontaminate: list[Path] = typer.Option([], "--decontaminate"),
    home: str | None = HomeOption,
) -> None:
    """Harvest merged pull requests (token from GITHUB_TOKEN). Validation: `harvest git` on a clone."""
    settings = settings_for(home)
    db = HarvestDB(settings.home / "harvest.db")
    client = GitHubClient(base_url, cache=db)
    names = list(repos or []) + _read_repos_file(repos_file)
    names += ghsource.search_repos(client, search, search_limit) if search else []
    if not names:
        raise ConfigError("name repositories, --repos-file or --search")

    def candidates() -> Iterator[Candidate]:
        for name in dict.fromkeys(names):
            yield from ghsource.harvest_repo(client, name, db, use_timeline=timeline, limit=limit)

    config = _filter_config(allow_unknown_licence, False)
    decon = load_decontamination(decontaminate)
    files = ghsource.GitHubFiles(client)
    run_harvest(
        candidates(), files, settings, config=config, decon=decon, validate=None, workers=1, source="github"
    )
    client.close()


def _read_repos_file(path: Path | None) -> list[str]:
    if path is None:
        return []
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln]


@app.command("funnel")
def harvest_funnel(
    repo: str | None = typer.Option(None, "--repo", help="Only this repository."),
    as_json: bool = typer.Option(False, "--json"),
    home: str | None = HomeOption,
) -> None:
    """Counts per stage reached and reason, and the funnel's widths."""
    db = HarvestDB(settings_for(home).home / "harvest.db")
    entries = db.entries(repo)
    counts = funnel(entries)
    if as_json:
        rows = [{"stage": s.value, "reason": r.value, "count": n} for (s, r), n in counts.items()]
        typer.echo(json.dumps({"pipeline_version": PIPELINE_VERSION, "total": len(entries), "rows": rows}))
        return
    table = Table(title=f"harvest funnel ({len(entries)} candidates, pipeline {PIPELINE_VERSION})")
    for column in ("stage reached", "reason", "count"):
        table.add_column(column)
    for (stage, reason), n in counts.items():
        table.add_row(stage.value, reason.value, str(n))
    Console().print(table)
    widths = reached(entries)
    Console().print("  ".join(f"{stage.value} {n}" for stage, n in widths.items()))
