"""The `envfarm` command: one Typer app, one module per command group."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from envfarm.cli import controller as controller_cli
from envfarm.cli import demo, tasks
from envfarm.cli import env as env_cli
from envfarm.cli import harvest as harvest_cli
from envfarm.cli import jobs as jobs_cli
from envfarm.cli import kubesim as kubesim_cli
from envfarm.cli import repos as repos_cli
from envfarm.cli import rollout as rollout_cli
from envfarm.cli import verify as verify_cli
from envfarm.errors import EnvfarmError

app = typer.Typer(
    name="envfarm",
    help="envfarm: harvest, run and verify SWE tasks for agentic RL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tasks.app, name="tasks")
app.add_typer(harvest_cli.app, name="harvest")
app.add_typer(env_cli.app, name="env")
app.add_typer(repos_cli.app, name="repos")
app.add_typer(kubesim_cli.app, name="kubesim")
app.add_typer(rollout_cli.app, name="rollout")
app.add_typer(controller_cli.app, name="controller")
app.add_typer(jobs_cli.app, name="jobs")
app.command("demo")(demo.demo)
app.command("verify", epilog=verify_cli.EPILOG)(verify_cli.verify)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at debug level.")) -> None:
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Entry point: envfarm's own errors print as one clear line and exit 2, never as a traceback."""
    try:
        app()
    except EnvfarmError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
