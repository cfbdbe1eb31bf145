"""`envfarm tasks`: ingest, list, show, export and count tasks in the task store."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from envfarm.cli.common import HomeOption, open_store
from envfarm.models.task import SweTask
from envfarm.store.export import FORMATS, export
from envfarm.store.ingest import IngestReport, ingest, write_rejects
from envfarm.store.readers import SUFFIXES, Raw
from envfarm.store.tasks import AnyTask, TaskFilter

LIST_COUNT_CAP = 10_000

app = typer.Typer(help="Load, query and export tasks.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RepoOpt = typer.Option("", "--repo", help="Only tasks of this repository (owner/name).")
KindOpt = typer.Option("", "--kind", help="Only tasks of this kind: swe or web.")
StatusOpt = typer.Option(
    "", "--status", help="Only tasks with this status: new, validated, rejected, retired."
)
TextOpt = typer.Option("", "--text", help="Full-text search over problem statements (all words must match).")


def _total_bytes(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        files = [p for p in path.rglob("*") if p.suffix in SUFFIXES] if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total


@app.command("ingest")
def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="JSONL, JSON, YAML or Parquet files, or folders of them."),
    strict: bool = typer.Option(False, "--strict", help="Store nothing if any record is rejected."),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Write rejected records (with reasons) here."
    ),
    home: str | None = HomeOption,
) -> None:
    """Validate and store tasks. Exit code 1 if any record was rejected (the valid ones are still stored)."""
    with open_store(home) as store, _progress() as progress:
        bar = progress.add_task("ingest", total=_total_bytes(paths) or None)

        def advance(raw: Raw) -> None:
            progress.update(bar, advance=raw.nbytes)

        report = ingest(store, paths, strict=strict, progress=advance)
    _print_report(report)
    if rejects is not None and report.rejects:
        write_rejects(report, rejects)
        err.print(f"rejected records written to {rejects}")
    if report.rejects:
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _print_report(report: IngestReport) -> None:
    for reject in report.rejects[:50]:
        err.print(f"[red]rejected[/red] {escape(str(reject))}", highlight=False)
    if report.rejected > 50:
        err.print(f"... and {report.rejected - 50} more rejected records")
    if report.unknown_keys:
        keys = ", ".join(f"{k} ({n})" for k, n in report.unknown_keys.most_common())
        err.print(f"kept keys that SWE-bench does not define: {keys}")
    if report.rolled_back:
        err.print("[yellow]--strict: nothing was stored because some records were rejected[/yellow]")
    summary = report.summary()
    console.print(
        f"accepted {summary['accepted']}, updated {summary['updated']}, "
        f"unchanged {summary['unchanged']}, rejected {summary['rejected']}"
    )


@app.command("list")
def list_cmd(
    repo: str = RepoOpt,
    kind: str = KindOpt,
    status: str = StatusOpt,
    text: str = TextOpt,
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per line."),
    home: str | None = HomeOption,
) -> None:
    """List tasks, newest first."""
    with open_store(home) as store:
        where = TaskFilter(repo=repo, kind=kind, status=status, text=text)
        tasks, total = store.query(where, limit=limit), store.count(where, cap=LIST_COUNT_CAP)
    if as_json:
        for task in tasks:
            typer.echo(task.model_dump_json(exclude_none=True))
        return
    table = Table("instance_id", "kind", "repo", "status", "created_at", "F2P", "statement")
    for task in tasks:
        table.add_row(*_row(task))
    console.print(table)
    shown = f"{LIST_COUNT_CAP}+" if total >= LIST_COUNT_CAP else str(total)
    console.print(f"{len(tasks)} of {shown} matching tasks")


def _row(task: AnyTask) -> list[str]:
    status = task.envfarm.validation.status.value
    if isinstance(task, SweTask):
        first = task.problem_statement.strip().splitlines()[0][:60] if task.problem_statement.strip() else ""
        return [
            task.instance_id,
            task.kind,
            task.repo,
            status,
            task.created_at,
            str(len(task.FAIL_TO_PASS)),
            first,
        ]
    return [task.instance_id, task.kind, task.app, status, task.created_at, "-", task.instruction[:60]]


@app.command("show")
def show_cmd(instance_id: str, home: str | None = HomeOption) -> None:
    """Print one task as JSON, with its earlier revisions counted."""
    with open_store(home) as store:
        task = store.get(instance_id)
        revisions = store.revisions(instance_id)
    typer.echo(json.dumps(task.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False))
    if revisions:
        err.print(f"{len(revisions)} earlier revision(s) kept")


@app.command("export")
def export_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="File (or folder for --format dir) to write."),
    fmt: str = typer.Option("jsonl", "--format", help=f"One of: {', '.join(FORMATS)}."),
    repo: str = RepoOpt,
    kind: str = KindOpt,
    status: str = StatusOpt,
    text: str = TextOpt,
    home: str | None = HomeOption,
) -> None:
    """Export tasks: envfarm JSONL/JSON, SWE-bench JSONL (test lists JSON-encoded), Parquet, or a folder."""
    with open_store(home) as store:
        where = TaskFilter(repo=repo, kind=kind, status=status, text=text)
        count = export(store.iter_tasks(where), out, fmt)
    console.print(f"wrote {count} tasks to {out}")


@app.command("stats")
def stats_cmd(
    as_json: bool = typer.Option(False, "--json"),
    home: str | None = HomeOption,
) -> None:
    """Counts by kind, status and repository."""
    with open_store(home) as store:
        stats = store.stats()
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    print_stats(stats)


def print_stats(stats: dict[str, object]) -> None:
    console.print(f"[bold]{stats['tasks']}[/bold] tasks, {stats['revisions']} kept revisions")
    for key in ("by_kind", "by_status", "by_repo"):
        table = Table(key.removeprefix("by_"), "tasks")
        counts = stats[key]
        assert isinstance(counts, dict)
        for name, n in list(counts.items())[:20]:
            table.add_row(str(name), str(n))
        console.print(table)
    if stats.get("created_from"):
        console.print(f"created {stats['created_from']} .. {stats['created_to']}")
