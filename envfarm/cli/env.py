"""`envfarm env`: bring a task's environment up, run commands in it, take its diff, bring it down."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from envfarm.cli.common import HomeOption, open_store, settings_for
from envfarm.errors import NotFoundError, SandboxError
from envfarm.models.task import SweTask
from envfarm.sandbox.client import RuntimeClient
from envfarm.sandbox.envs import EnvManager, new_name

app = typer.Typer(help="Environments: one sandbox per task, taking commands.", no_args_is_help=True)


def _state(home: str | None, name: str) -> dict[str, object]:
    path = settings_for(home).envs_dir / name / "env.json"
    if not path.exists():
        raise NotFoundError(f"no running environment {name!r} (see `envfarm env list`)")
    data: dict[str, object] = json.loads(path.read_text())
    return data


@app.command("up")
def up(
    task_id: str = typer.Argument(..., help="instance_id of a task in the store"),
    home: str | None = HomeOption,
    unsafe: bool = typer.Option(False, "--unsafe", help="Run WITHOUT bubblewrap isolation."),
    online: bool = typer.Option(False, "--online", help="Clone the repository from GitHub if not cached."),
    wait_s: float = typer.Option(600.0, help="How long to wait for the environment."),
) -> None:
    """Build (or reuse) the task's environment and start it; prints the environment's name."""
    settings = settings_for(home)
    with open_store(home) as store:
        task = store.get(task_id)
    if not isinstance(task, SweTask):
        raise SandboxError(f"task {task_id} is a web task: it has no repository environment")
    manager = EnvManager(settings, unsafe=unsafe, online=online)
    name = new_name(task)
    spec, sha = asyncio.run(manager.prepare(task, name))
    env_dir = manager.env_dir(name)
    (env_dir / "spec.json").write_text(spec.model_dump_json())
    meta = {"name": name, "instance_id": task.instance_id, "base_commit": sha, "unsafe": unsafe}
    (env_dir / "meta.json").write_text(json.dumps(meta))
    with (settings.envs_dir / f"{name}.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "envfarm.sandbox.keeper", str(env_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    while not (env_dir / "env.json").exists():
        if time.monotonic() > deadline or not env_dir.exists():
            raise SandboxError(
                f"environment {name} did not come up; see {settings.envs_dir / (name + '.log')}"
            )
        time.sleep(0.02)
    typer.echo(name)


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="environment name from `env up`"),
    home: str | None = HomeOption,
    timeout_s: float = typer.Option(600.0, "--timeout", help="Kill the command after this long."),
) -> None:
    """Run `CMD...` (after --) in the environment; exits with its exit code."""
    state = _state(home, name)
    argv = list(ctx.args)
    if not argv:
        raise typer.BadParameter("give a command after --, e.g. `envfarm env exec NAME -- ls`")

    async def run() -> int:
        async with RuntimeClient(str(state["token"]), unix_socket=str(state["socket"])) as rt:
            res = await rt.exec(argv, timeout_s=timeout_s)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        return res.exit_code

    raise typer.Exit(asyncio.run(run()) & 0xFF)


@app.command("diff")
def diff(name: str = typer.Argument(...), home: str | None = HomeOption) -> None:
    """The workspace's diff against the base commit (untracked files included)."""
    state = _state(home, name)

    async def run() -> bytes:
        async with RuntimeClient(str(state["token"]), unix_socket=str(state["socket"])) as rt:
            return await rt.diff(str(state["base_commit"]))

    sys.stdout.buffer.write(asyncio.run(run()))


@app.command("down")
def down(name: str = typer.Argument(...), home: str | None = HomeOption) -> None:
    """Stop the environment and remove its workspace."""
    state = _state(home, name)
    env_dir = settings_for(home).envs_dir / name
    pid = int(str(state["pid"]))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while env_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (env_dir.parent / f"{name}.log").unlink(missing_ok=True)
    typer.echo(f"{name} down")


@app.command("list")
def list_(home: str | None = HomeOption) -> None:
    """Running environments."""
    for path in sorted(settings_for(home).envs_dir.glob("*/env.json")):
        state = json.loads(path.read_text())
        alive = Path(f"/proc/{state['pid']}").exists()
        typer.echo(f"{state['name']}\t{state['instance_id']}\t{'up' if alive else 'dead'}")
