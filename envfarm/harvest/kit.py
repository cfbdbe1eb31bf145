"""The test verifier's pieces that validation runs with, so a harvested task grades the same way when a
rollout on it is verified: its test command, deterministic run environment, patch scripts, log parsers
and grading. ``envfarm.verify`` sits below ``envfarm.harvest``; :func:`verify_kit` builds the default, and
callers (tests, other graders) may inject another :class:`VerifyKit` into the validator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envfarm.harvest.judge import Probe, Run, TestMap, own_probe
from envfarm.models.task import SweTask
from envfarm.verify import command, scripts
from envfarm.verify.grading import RunObservation, grade
from envfarm.verify.parsers import get_parser
from envfarm.verify.status import TestStatus


@dataclass(frozen=True)
class VerifyKit:
    """What validation needs from a verifier (see the module docstring)."""

    parse: Callable[[str, str], TestMap]  # (log_parser name, log text) -> {test id: status}
    test_command: Callable[[SweTask], str]  # the task's test command on its test files
    base_command: Callable[[SweTask], str]  # the task's test command alone
    test_files: Callable[[str], list[str]]  # the test files a test_patch leaves in place
    prepare: Callable[[str, str, str], str]  # (gold, test_patch, base) -> script applying them
    run_script: Callable[[str], str]  # test command -> script running it, log to stdout
    run_env: Callable[[SweTask], dict[str, str]]  # deterministic environment variables
    gold_failed_code: int  # exit code of ``prepare`` when the gold patch does not apply
    test_patch_failed_code: int  # ... when the test patch does not apply
    probe: Probe = own_probe


def verifier_probe(f2p: list[str], p2p: list[str], run: Run) -> str:
    """The empty-patch probe graded by the test verifier's own grading (its outcome's value)."""
    results = {k: TestStatus(v) for k, v in run.results.items() if v in TestStatus.__members__}
    observation = RunObservation(exit_code=run.exit_code, results=results)
    return grade(f2p, p2p, observation, []).outcome.value


def parse_log(parser: str, text: str) -> dict[str, str]:
    return {k: v.value for k, v in get_parser(parser)(text).items()}


def run_script(test_command: str) -> str:
    return scripts.run(test_command, command.FIXED_HOME)


def verify_kit() -> VerifyKit:
    """The test verifier's command, scripts, parsers and grading, as validation uses them."""
    return VerifyKit(
        parse=parse_log,
        test_command=command.test_command,
        base_command=command.base_command,
        test_files=command.test_files,
        prepare=scripts.prepare,
        run_script=run_script,
        run_env=command.run_env,
        gold_failed_code=scripts.CANDIDATE_FAILED,
        test_patch_failed_code=scripts.TEST_PATCH_FAILED,
        probe=verifier_probe,
    )
