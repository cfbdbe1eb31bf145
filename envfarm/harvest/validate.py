"""Validation of a harvested task in a real environment: three states, N runs each, then :mod:`judge`.

One fresh environment per task; the states run in it one after the other, the workspace reset to the
base commit between them (``git reset --hard`` and ``git clean -fd``: ignored build outputs stay). The
test command, the deterministic run environment, the patch scripts, the log parsers and the probe's
grading come in a :class:`~envfarm.harvest.kit.VerifyKit`: the test verifier's by default
(:func:`~envfarm.harvest.kit.verify_kit`), so a task validated here grades the same way when a rollout is
verified; tests may inject another. :func:`local_validator` validates in local bubblewrap environments.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from envfarm.errors import EnvfarmError, SandboxError
from envfarm.harvest.diffs import split_files
from envfarm.harvest.judge import Judgement, Run, judge
from envfarm.harvest.kit import VerifyKit, verify_kit
from envfarm.harvest.ledger import Reason, Stage
from envfarm.harvest.pipeline import Checked
from envfarm.models.task import SweTask, TaskStatus
from envfarm.sandbox.envs import EnvManager
from envfarm.sandbox.protocol import Sandbox
from envfarm.settings import Settings

log = logging.getLogger(__name__)
VALIDATOR_VERSION = "harvest-validate-1"
PREPARE_TIMEOUT_S = 300.0
EnvFactory = Callable[[SweTask], Awaitable[Sandbox]]
Release = Callable[[Sandbox], Awaitable[None]]


class _StateFailed(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason, self.detail = reason, detail
        super().__init__(detail)


async def _stop(env: Sandbox) -> None:
    await env.stop()


class Validator:
    """``Validator(envs)(task)`` -> :class:`Checked`; safe to call from many worker threads at once."""

    def __init__(
        self,
        envs: EnvFactory,
        kit: VerifyKit | None = None,
        *,
        runs: int = 3,
        timeout_s: float | None = None,
        release: Release = _stop,
        start_envs: bool = True,
    ) -> None:
        self.envs, self.release, self.start_envs = envs, release, start_envs
        self.kit = kit or verify_kit()
        self.runs, self.timeout_s = max(1, runs), timeout_s

    def __call__(self, task: SweTask) -> Checked:
        return asyncio.run(self.validate(task))

    async def validate(self, task: SweTask) -> Checked:
        try:
            env = await self.envs(task)
            if self.start_envs:
                await env.start()
        except EnvfarmError as exc:
            return Checked(Reason.env_build_failed, task, str(exc)[:500], Stage.env_inferred)
        try:
            base = await self._state(env, task, "base")
            tests = await self._state(env, task, "tests")
            gold = await self._state(env, task, "gold")
        except _StateFailed as exc:
            return Checked(exc.reason, task, exc.detail, Stage.env_built)
        except SandboxError as exc:
            return Checked(Reason.infra_error, task, f"environment lost: {exc}"[:500], Stage.env_built)
        finally:
            await self._release(env)
        return _checked(task, judge(base, tests, gold, self.kit.probe), self.runs)

    async def _release(self, env: Sandbox) -> None:
        try:
            await self.release(env)
        except (EnvfarmError, OSError) as exc:
            log.warning("releasing a validation environment failed: %s", exc)

    async def _state(self, env: Sandbox, task: SweTask, state: str) -> list[Run]:
        kit = self.kit
        reset = f"git reset -q --hard {shlex.quote(task.base_commit)} && git clean -qfd\n"
        gold = task.patch if state == "gold" else ""
        tests = "" if state == "base" else task.test_patch
        script = reset + kit.prepare(gold, tests, task.base_commit)  # also makes the run's work folder
        res = await env.exec(script, timeout_s=PREPARE_TIMEOUT_S, env=kit.run_env(task))
        if res.exit_code != 0:
            raise _StateFailed(*self._prepare_failure(state, res.exit_code, res.stderr))
        cmd = self._base_state_command(task) if state == "base" else kit.test_command(task)
        if cmd is None:
            return []
        return [await self._run(env, task, cmd) for _ in range(self.runs)]

    async def _run(self, env: Sandbox, task: SweTask, cmd: str) -> Run:
        timeout = self.timeout_s or float(task.envfarm.resources.timeout_s)
        script = self.kit.run_script(cmd)
        res = await env.exec(script, timeout_s=timeout, env=self.kit.run_env(task), raise_on_timeout=False)
        text = res.stdout + res.stderr
        parser = task.install_config.log_parser if task.install_config else "parse_log_pytest"
        results = {} if res.timed_out else dict(self.kit.parse(parser, text))
        memory = res.exit_code in (137, -9) or "MemoryError" in text
        return Run(results, None if res.timed_out else res.exit_code, res.timed_out, memory)

    def _prepare_failure(self, state: str, code: int, stderr: str) -> tuple[Reason, str]:
        tail = stderr.strip()[-400:]
        if code == self.kit.gold_failed_code:
            return Reason.gold_patch_fails, f"the gold patch does not apply: {tail}"
        if code == self.kit.test_patch_failed_code:
            return Reason.test_patch_fails, f"the test patch does not apply: {tail}"
        return Reason.infra_error, f"{state}: preparing the workspace failed (exit {code}): {tail}"

    def _base_state_command(self, task: SweTask) -> str | None:
        """The test command on the test_patch's files that exist at base (None when all are new)."""
        existing = {f.path for f in split_files(task.test_patch) if "\nnew file mode" not in f.text[:300]}
        files = [f for f in self.kit.test_files(task.test_patch) if f in existing]
        if not files:
            return None
        return " ".join([self.kit.base_command(task), *(shlex.quote(f) for f in files)])


def local_validator(settings: Settings, runs: int = 3, unsafe: bool = False) -> Validator:
    """Validation in local bubblewrap environments built by the sandbox layer (cached venvs)."""
    manager = EnvManager(settings, unsafe=unsafe)
    return Validator(manager.up, runs=runs, release=manager.down, start_envs=False)


def _checked(task: SweTask, verdict: Judgement, runs: int) -> Checked:
    ok = verdict.reason is Reason.ok
    updated = task.model_copy(deep=True)
    updated.FAIL_TO_PASS, updated.PASS_TO_PASS = verdict.fail_to_pass, verdict.pass_to_pass
    v = updated.envfarm.validation
    v.status = TaskStatus.validated if ok else TaskStatus.rejected
    v.runs, v.gold_passes = runs, runs if ok else 0
    v.empty_patch_score = 0.0 if verdict.probe_outcome not in ("pass", "partial") else None
    v.flaky_tests, v.reason = verdict.flaky, "" if ok else f"{verdict.reason.value}: {verdict.detail}"
    v.validated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    v.verifier_version = VALIDATOR_VERSION
    return Checked(verdict.reason, updated, verdict.detail, Stage.validated)
