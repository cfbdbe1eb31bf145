"""The `envfarm` command: one Typer app, one module per command group."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="envfarm", help="envfarm: harvest, run and verify SWE tasks for agentic RL.", no_args_is_help=True
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at debug level.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    app()
