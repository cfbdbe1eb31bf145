"""`envfarm demo`: the main job on the embedded local backend, end to end on the bundled sample tasks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from envfarm.cli.common import HomeOption, open_store
from envfarm.cli.tasks import print_stats
from envfarm.errors import ConfigError
from envfarm.store.ingest import ingest

console = Console(soft_wrap=True)


def bundled_tasks_dir() -> Path:
    """The repository's tasks/ folder (a source checkout; pass --tasks-dir elsewhere)."""
    return Path(__file__).resolve().parents[2] / "tasks"


def demo(
    tasks_dir: Path | None = typer.Option(
        None, "--tasks-dir", help="Folder of task files (default: tasks/)."
    ),
    home: str | None = HomeOption,
) -> None:
    """Ingest the bundled sample tasks and print the task store's statistics."""
    folder = tasks_dir or bundled_tasks_dir()
    files = sorted(folder.glob("**/tasks.jsonl")) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"no tasks.jsonl under {folder}: run from a source checkout or pass --tasks-dir")
    with open_store(home) as store:
        console.rule("1. ingest the sample tasks")
        report = ingest(store, files)
        console.print(report.summary())
        for reject in report.rejects:
            console.print(f"[red]rejected[/red] {escape(str(reject))}", highlight=False)
        console.rule("2. task store statistics")
        print_stats(store.stats())
    if report.rejects:
        raise typer.Exit(1)
