"""`envfarm verify TASK_ID --patch FILE`: grade a patch in a fresh environment; the exit code says how."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from envfarm.cli.common import HomeOption, open_store, settings_for
from envfarm.errors import InputError
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome, Verdict
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.limits import Limits
from envfarm.verify.grading import RewardPolicy
from envfarm.verify.tests import TestVerifier, VerifyOptions

EXIT_CODES = {
    Outcome.passed: 0,
    Outcome.failed: 1,
    Outcome.partial: 3,
    Outcome.timeout: 4,
    Outcome.infra_error: 5,
    Outcome.invalid: 6,
}
EPILOG = (
    "Exit codes: 0 pass, 1 fail, 3 partial, 4 timeout, 5 infra_error (no reward: the environment failed), "
    "6 invalid (nothing parsed, patch refused, or a hack flag), 2 bad usage or an envfarm error."
)
console = Console(soft_wrap=True)


def read_patch(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read patch file {path}: {exc}") from exc


def show(verdict: Verdict) -> None:
    colour = {"pass": "green", "partial": "yellow", "infra_error": "magenta"}.get(verdict.outcome, "red")
    reward = "none" if verdict.reward is None else f"{verdict.reward:g}"
    console.print(
        f"[{colour}]{verdict.outcome}[/{colour}]  reward {reward}  confidence {verdict.confidence:g}"
    )
    for key in ("FAIL_TO_FAIL", "PASS_TO_FAIL"):
        for test in getattr(verdict.tests, key):
            console.print(f"  {key}: {escape(test)}")
    if verdict.hack_flags:
        console.print(f"  hack flags: {', '.join(verdict.hack_flags)}")
    if verdict.reason:
        console.print(f"  reason: {escape(verdict.reason)}")
    t = verdict.timings
    console.print(
        f"  setup {t.setup_s:.2f}s apply {t.apply_s:.2f}s run {t.run_s:.2f}s total {t.total_s:.2f}s"
    )
    console.print(f"  log: {verdict.evidence.log_path}")


def verify(
    task_id: str = typer.Argument(..., help="instance_id of a task in the task store."),
    patch: str = typer.Option(..., "--patch", help="The candidate patch (unified diff); '-' reads stdin."),
    reruns: int = typer.Option(
        1, "--reruns", min=1, max=20, help="Run the tests N times: confidence, flakes."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as one JSON object."),
    timeout_s: float = typer.Option(0, "--timeout", min=0, help="Seconds per test run (0: the task's own)."),
    partial: bool = typer.Option(
        False, "--partial-credit", help="Reward the share of expected tests passing."
    ),
    unsafe: bool = typer.Option(
        False, "--unsafe", help="Run without bubblewrap isolation (trusted input only)."
    ),
    home: str | None = HomeOption,
) -> None:
    """Grade a candidate patch for TASK_ID by running the task's tests in a fresh environment."""
    settings = settings_for(home)
    task = open_store(home).get(task_id)
    if not isinstance(task, SweTask):
        raise InputError(f"task {task_id} is a {task.kind} task; `envfarm verify` grades SWE tasks")
    options = VerifyOptions(
        reruns=reruns,
        timeout_s=timeout_s or None,
        reward_policy=RewardPolicy.fraction if partial else RewardPolicy.binary,
    )
    limits = Limits(wall_time_s=max(float(task.envfarm.resources.timeout_s), timeout_s) * reruns + 300)
    envs = EnvManager(settings, limits=limits, unsafe=unsafe)
    verifier = TestVerifier(envs, settings.artifacts_dir, options)
    verdict = asyncio.run(verifier.verify(task, read_patch(patch)))
    if as_json:
        typer.echo(verdict.model_dump_json())
    else:
        show(verdict)
    raise typer.Exit(EXIT_CODES[verdict.outcome])
