"""`envfarm repos`: the repository cache (bare mirrors environments check out from)."""

from __future__ import annotations

from pathlib import Path

import typer

from envfarm.cli.common import HomeOption, settings_for
from envfarm.sandbox.repos import RepoCache

app = typer.Typer(help="Repository cache: mirrors of task repositories.", no_args_is_help=True)


@app.command("add")
def add(
    repo: str = typer.Argument(..., help="OWNER/NAME as tasks name it"),
    path: Path = typer.Argument(..., exists=True, help="a local clone holding the history"),
    home: str | None = HomeOption,
) -> None:
    """Register (or refresh) the mirror of REPO from a local clone."""
    cached = RepoCache(settings_for(home).repos_dir).add(repo, path)
    typer.echo(f"{cached.repo}\t{cached.path}")


@app.command("list")
def list_(home: str | None = HomeOption) -> None:
    """Cached repositories and where they came from."""
    for cached in RepoCache(settings_for(home).repos_dir).list():
        typer.echo(f"{cached.repo}\t{cached.origin}")
