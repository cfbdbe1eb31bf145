"""Grading: from parsed test results to an outcome, per-test splits and a reward (pure).

Order of judgement for one run: blocking hack flags -> ``invalid``; timeout -> ``timeout``; killed by a
signal -> ``fail`` with the reason; nothing parsed -> ``invalid``; the exit code or a second report
disagreeing with the parsed log -> ``invalid`` with a flag; then FAIL_TO_PASS / PASS_TO_PASS decide
pass / partial / fail. ``infra_error`` is never decided here: only the verifier's I/O layer knows it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from enum import StrEnum

from envfarm.models.verdict import Outcome, TestResults
from envfarm.verify import hacks
from envfarm.verify.status import BAD, F2P_OK, P2P_OK, TestMap, TestStatus


class RewardPolicy(StrEnum):
    binary = "binary"  # 1.0 for pass, else 0.0
    fraction = "fraction"  # share of expected tests that pass (pass/partial/fail), else 0.0


@dataclass(frozen=True)
class RunObservation:
    """What one run of the test command produced, already parsed."""

    exit_code: int | None  # None: never finished
    results: TestMap = field(default_factory=dict)
    timed_out: bool = False
    report: TestMap | None = None  # an independent report (JUnit XML) to cross-check the log against


@dataclass(frozen=True)
class Grade:
    outcome: Outcome
    tests: TestResults
    flags: list[str]
    reason: str = ""
    f2p_rate: float = 0.0
    p2p_rate: float = 0.0


def lookup(test_id: str, results: TestMap) -> TestStatus | None:
    """A test's status; an id may also appear with a trailing `` - message`` its summary line kept."""
    if test_id in results:
        return results[test_id]
    prefix = test_id + " - "
    return next((status for key, status in results.items() if key.startswith(prefix)), None)


def split(expected: list[str], results: TestMap, ok: frozenset[TestStatus]) -> dict[str, list[str]]:
    success = [t for t in expected if lookup(t, results) in ok]
    return {"success": success, "failure": [t for t in expected if t not in set(success)]}


def exit_code_agrees(exit_code: int, results: TestMap) -> bool:
    """A failing test needs a non-zero exit; a run where everything passed needs exit 0."""
    return (exit_code != 0) == any(status in BAD for status in results.values())


def report_disagrees(expected: list[str], results: TestMap, report: TestMap) -> list[str]:
    """Expected tests whose pass/fail differs between the log and the independent report."""
    return [t for t in expected if (lookup(t, results) in F2P_OK) != (lookup(t, report) in F2P_OK)]


def killed_by(exit_code: int) -> int | None:
    if exit_code < 0:
        return -exit_code
    return exit_code - 128 if exit_code in (128 + signal.SIGKILL, 128 + signal.SIGSEGV) else None


def rate(part: dict[str, list[str]]) -> float:
    total = len(part["success"]) + len(part["failure"])
    return len(part["success"]) / total if total else 1.0


def test_results(f2p: list[str], p2p: list[str], results: TestMap) -> TestResults:
    f2p_split, p2p_split = split(f2p, results, F2P_OK), split(p2p, results, P2P_OK)
    return TestResults(
        FAIL_TO_PASS=f2p_split,
        PASS_TO_PASS=p2p_split,
        FAIL_TO_FAIL=f2p_split["failure"],
        PASS_TO_FAIL=p2p_split["failure"],
    )


def early_verdict(
    run: RunObservation, flags: list[str], block_on: frozenset[str]
) -> tuple[Outcome, str] | None:
    """Outcomes decided before looking at which tests passed."""
    if blocked := hacks.blocking(flags, block_on):
        return Outcome.invalid, "patch changes what decides the result: " + ", ".join(blocked)
    if run.timed_out or run.exit_code is None:
        return Outcome.timeout, "test command ran past its time limit"
    sig = killed_by(run.exit_code)
    if sig is not None:
        return Outcome.failed, f"test command killed by signal {sig} (memory or process limit?)"
    if not run.results:
        return Outcome.invalid, f"no test result could be parsed from the log (exit code {run.exit_code})"
    return None


def cross_checks(run: RunObservation, expected: list[str]) -> tuple[list[str], str]:
    """Flags (and reason) when the exit code or the second report disagrees with the parsed log."""
    assert run.exit_code is not None
    if not exit_code_agrees(run.exit_code, run.results):
        return [hacks.EXIT_CODE_MISMATCH], f"exit code {run.exit_code} disagrees with the parsed results"
    if run.report is not None and (odd := report_disagrees(expected, run.results, run.report)):
        return [hacks.REPORT_MISMATCH], f"log and JUnit report disagree on {len(odd)} test(s): {odd[:3]}"
    return [], ""


def outcome_of(tests: TestResults) -> Outcome:
    f2p, p2p = tests.FAIL_TO_PASS, tests.PASS_TO_PASS
    if not f2p["failure"] and not p2p["failure"]:
        return Outcome.passed
    if f2p["success"] and not p2p["failure"]:
        return Outcome.partial
    return Outcome.failed


def grade(
    f2p: list[str],
    p2p: list[str],
    run: RunObservation,
    patch_flags: list[str],
    block_on: frozenset[str] = hacks.BLOCKING,
) -> Grade:
    """Grade one run of the test command for a task's FAIL_TO_PASS and PASS_TO_PASS lists.

    ``block_on``: the patch flags that make the run ``invalid`` whatever the tests say. The exit-code and
    report cross-checks always make it ``invalid``: they are facts about this run, not about the patch.
    """
    tests = test_results(f2p, p2p, run.results)
    flags = sorted(set(patch_flags))
    missing = [t for t in f2p + p2p if lookup(t, run.results) is None]
    if missing and run.results:
        flags = sorted({*flags, hacks.TESTS_MISSING})
    rates = {"f2p_rate": rate(tests.FAIL_TO_PASS), "p2p_rate": rate(tests.PASS_TO_PASS)}
    early = early_verdict(run, flags, block_on)
    if early is not None:
        return Grade(early[0], tests, flags, early[1], **rates)
    extra, reason = cross_checks(run, f2p + p2p)
    if extra:
        return Grade(Outcome.invalid, tests, sorted({*flags, *extra}), reason, **rates)
    outcome = outcome_of(tests)
    if missing and outcome is not Outcome.passed:
        reason = f"{len(missing)} expected test(s) did not run: {missing[:3]}"
    return Grade(outcome, tests, flags, reason, **rates)


def reward(grade: Grade, policy: RewardPolicy = RewardPolicy.binary) -> float:
    """Reward of a graded run (``infra_error`` never reaches here: its reward is None)."""
    if grade.outcome is Outcome.passed:
        return 1.0
    if policy is RewardPolicy.fraction and grade.outcome in (Outcome.partial, Outcome.failed):
        f2p, p2p = grade.tests.FAIL_TO_PASS, grade.tests.PASS_TO_PASS
        total = sum(len(v) for v in (*f2p.values(), *p2p.values()))
        return (len(f2p["success"]) + len(p2p["success"])) / total if total else 0.0
    return 0.0
