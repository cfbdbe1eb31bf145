"""The test verifier: grade a candidate patch by running the task's tests in a FRESH environment.

Never the agent's environment: ``envs`` makes a new one per verification. In it the candidate patch is
applied, every file the task's test_patch touches is put back to the base commit, the test_patch is
applied, and the task's test command runs (deterministic variables, no network) once per rerun. The log
(and, for pytest, a JUnit report) is parsed, graded and returned as a :class:`Verdict`. Anything that is
the infrastructure's fault is ``infra_error`` with reward None, never ``fail``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from envfarm.errors import (
    CommandTimeout,
    EnvfarmError,
    OutputTooLarge,
    PatchError,
    RuntimeRequestError,
    SandboxError,
    VerifyError,
)
from envfarm.models.task import SweTask
from envfarm.models.verdict import Evidence, Outcome, Timings, Verdict
from envfarm.sandbox.patchcheck import parse_patch
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.wire import ExecResult
from envfarm.verify import command, hacks, scripts
from envfarm.verify.grading import Grade, RewardPolicy, RunObservation, grade, reward
from envfarm.verify.parsers import get_parser, parse_log_pytest_junit
from envfarm.verify.reruns import combine
from envfarm.verify.status import TestMap

log = logging.getLogger(__name__)
VERIFIER = "tests"
VERIFIER_VERSION = "1.0.0"
PREPARE_TIMEOUT_S = 300.0
STEPS = {
    scripts.RESTORE_FAILED: "restoring the test_patch's files to the base commit",
    scripts.TEST_PATCH_FAILED: "applying the task's test_patch",
}


class EnvProvider(Protocol):
    """Where fresh environments come from (locally :class:`envfarm.sandbox.envs.EnvManager`)."""

    async def up(self, task: SweTask) -> Sandbox:
        """A new, started environment of ``task`` at its base commit."""
        ...

    async def down(self, env: Sandbox) -> None:
        """Stop ``env`` and remove every trace of it."""
        ...


@dataclass(frozen=True)
class VerifyOptions:
    reruns: int = 1
    timeout_s: float | None = None  # per run; None: the task's resources.timeout_s
    reward_policy: RewardPolicy = RewardPolicy.binary
    block_on: frozenset[str] = hacks.BLOCKING
    junit: bool = True


@dataclass
class Attempt:
    """What one verification gathered so far."""

    task: SweTask
    flags: list[str]
    timings: Timings = field(default_factory=Timings)
    evidence: Evidence = field(default_factory=Evidence)
    grades: list[Grade] = field(default_factory=list)
    apply_method: str = ""


class InfraError(Exception):
    """Internal: the environment, not the candidate, failed."""


class TestVerifier:
    """``await TestVerifier(envs, artifacts_dir).verify(task, patch)`` -> Verdict."""

    __test__ = False

    def __init__(self, envs: EnvProvider, artifacts_dir: Path, options: VerifyOptions | None = None) -> None:
        self.envs = envs
        self.artifacts_dir = artifacts_dir
        self.options = options or VerifyOptions()

    async def verify(self, task: SweTask, patch: str) -> Verdict:
        started = time.monotonic()
        attempt = Attempt(task, hacks.patch_flags(patch, task.test_patch))
        try:
            get_parser(command.log_parser(task))
            verdict = await self._verify(attempt, patch)
        except InfraError as exc:
            verdict = self._verdict(attempt, Outcome.infra_error, reason=str(exc))
        verdict.timings.total_s = round(time.monotonic() - started, 4)
        log.info("verified %s: %s %s", task.instance_id, verdict.outcome, verdict.reason)
        return verdict

    async def _verify(self, attempt: Attempt, patch: str) -> Verdict:
        try:
            if patch.strip():
                parse_patch(patch)
        except PatchError as exc:
            reason = f"candidate patch refused: {exc}"
            return self._verdict(attempt, Outcome.invalid, reason=reason, extra_flags=[hacks.UNSAFE_PATCH])
        if blocked := hacks.blocking(attempt.flags, self.options.block_on):
            reason = "patch changes what decides the result: " + ", ".join(blocked)
            return self._verdict(attempt, Outcome.invalid, reason=reason)
        env = await self._fresh_env(attempt)
        try:
            failed = await self._prepare(env, attempt, patch)
            if failed is not None:
                return failed
            for index in range(max(1, self.options.reruns)):
                attempt.grades.append(await self._run(env, attempt, index))
        except (SandboxError, OSError) as exc:
            raise InfraError(f"environment lost during verification: {exc}") from exc
        finally:
            await self._stop(env)
        return self._graded(attempt)

    async def _fresh_env(self, attempt: Attempt) -> Sandbox:
        t0 = time.monotonic()
        try:
            env = await self.envs.up(attempt.task)
        except EnvfarmError as exc:
            raise InfraError(f"environment could not be set up: {exc}") from exc
        attempt.timings.setup_s = round(time.monotonic() - t0, 4)
        return env

    async def _prepare(self, env: Sandbox, attempt: Attempt, patch: str) -> Verdict | None:
        """Apply the candidate, restore test files, apply the test_patch; a verdict if that fails."""
        t0 = time.monotonic()
        task = attempt.task
        script = scripts.prepare(patch, task.test_patch, task.base_commit)
        res = await env.exec(script, timeout_s=PREPARE_TIMEOUT_S, env=command.run_env(task))
        attempt.timings.apply_s = round(time.monotonic() - t0, 4)
        attempt.apply_method = _apply_method(res.stdout)
        if res.exit_code == scripts.CANDIDATE_FAILED:
            reason = f"candidate patch does not apply: {res.stderr.strip()[-500:]}"
            return self._verdict(attempt, Outcome.invalid, reason=reason, extra_flags=["patch_failed"])
        if res.exit_code != 0:
            step = STEPS.get(res.exit_code, f"a preparation step (exit {res.exit_code})")
            raise InfraError(f"task {task.instance_id}: {step} failed: {res.stderr.strip()[-500:]}")
        return None

    async def _run(self, env: Sandbox, attempt: Attempt, index: int) -> Grade:
        task = attempt.task
        junit = self.options.junit and command.wants_junit(task)
        cmd = command.test_command(task, scripts.JUNIT if junit else None)
        timeout = self.options.timeout_s or float(task.envfarm.resources.timeout_s)
        t0 = time.monotonic()
        try:
            res = await env.exec(
                scripts.run(cmd, command.FIXED_HOME),
                timeout_s=timeout,
                env=command.run_env(task),
                raise_on_timeout=False,
            )
        except CommandTimeout:
            res = None
        attempt.timings.run_s = round(attempt.timings.run_s + time.monotonic() - t0, 4)
        report = await _read_report(env) if junit and res is not None and not res.timed_out else None
        text = "" if res is None else res.stdout + res.stderr
        self._keep_evidence(attempt, index, text, report)
        t1 = time.monotonic()
        observation = _observe(task, res, text, report, junit)
        attempt.timings.parse_s = round(attempt.timings.parse_s + time.monotonic() - t1, 4)
        return grade(task.FAIL_TO_PASS, task.PASS_TO_PASS, observation, attempt.flags, self.options.block_on)

    async def _stop(self, env: Sandbox) -> None:
        try:
            await self.envs.down(env)
        except (SandboxError, OSError) as exc:
            log.warning("removing a verification environment failed: %s", exc)

    def _keep_evidence(self, attempt: Attempt, index: int, text: str, report: str | None) -> None:
        folder = self.artifacts_dir / "verify" / _safe_name(attempt.task.instance_id)
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 10**6:06d}-run{index}"
        log_path = folder / f"{stem}.log"
        log_path.write_text(text, encoding="utf-8")
        attempt.evidence.log_path = attempt.evidence.log_path or str(log_path)
        if report is not None:
            junit_path = folder / f"{stem}.junit.xml"
            junit_path.write_text(report, encoding="utf-8")
            attempt.evidence.junit_path = attempt.evidence.junit_path or str(junit_path)

    def _graded(self, attempt: Attempt) -> Verdict:
        combined = combine(attempt.grades)
        chosen = combined.grade
        flags = sorted({f for g in attempt.grades for f in g.flags})
        verdict = self._verdict(attempt, chosen.outcome, reason=chosen.reason, extra_flags=flags)
        verdict.reward = reward(chosen, self.options.reward_policy)
        verdict.tests = chosen.tests
        verdict.components = {"f2p_rate": chosen.f2p_rate, "p2p_rate": chosen.p2p_rate}
        verdict.confidence = combined.confidence
        verdict.flake_rates = combined.flake_rates
        verdict.runs = combined.runs
        return verdict

    def _verdict(
        self, attempt: Attempt, outcome: Outcome, *, reason: str, extra_flags: list[str] | None = None
    ) -> Verdict:
        flags = sorted({*attempt.flags, *(extra_flags or [])})
        return Verdict(
            task_id=attempt.task.instance_id,
            outcome=outcome,
            reward=None if outcome is Outcome.infra_error else 0.0,
            hack_flags=flags,
            reason=reason,
            timings=attempt.timings,
            evidence=attempt.evidence,
            verifier=VERIFIER,
            verifier_version=VERIFIER_VERSION,
            apply_method=attempt.apply_method,
        )


def _observe(
    task: SweTask, res: ExecResult | None, text: str, report: str | None, junit: bool
) -> RunObservation:
    if res is None or res.timed_out:
        return RunObservation(exit_code=None, timed_out=True)
    results = get_parser(command.log_parser(task))(text)
    report_map: TestMap | None = None
    if junit:
        report_map = _parse_report(report) if report is not None else {}
    return RunObservation(exit_code=res.exit_code, results=results, report=report_map)


def _parse_report(report: str) -> TestMap:
    try:
        return parse_log_pytest_junit(report)
    except VerifyError as exc:
        log.warning("unreadable JUnit report: %s", exc)
        return {}


async def _read_report(env: Sandbox) -> str | None:
    try:
        return (await env.read(scripts.JUNIT)).decode("utf-8", "replace")
    except (RuntimeRequestError, OutputTooLarge) as exc:
        log.info("no JUnit report: %s", exc)
        return None


def _apply_method(stdout: str) -> str:
    lines = [ln for ln in stdout.splitlines() if ln.startswith(scripts.APPLY_METHOD)]
    return lines[-1][len(scripts.APPLY_METHOD) :].strip() if lines else ""


def _safe_name(instance_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in instance_id)[:200] or "task"
