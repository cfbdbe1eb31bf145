"""What every command group shares: the --home option, settings and the task store."""

from __future__ import annotations

import typer

from envfarm.settings import Settings
from envfarm.store.tasks import TaskStore

HomeOption: str | None = typer.Option(
    None,
    "--home",
    envvar="ENVFARM_HOME",
    help="envfarm's data folder (default ~/.envfarm).",
    show_envvar=True,
)


def settings_for(home: str | None) -> Settings:
    return Settings.from_env(home).ensure()


def open_store(home: str | None) -> TaskStore:
    return TaskStore(settings_for(home).task_db)
