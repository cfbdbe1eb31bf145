"""Grading, rewards and reruns (pure)."""

from __future__ import annotations

from envfarm.models.verdict import Outcome
from envfarm.verify import hacks
from envfarm.verify.grading import Grade, RewardPolicy, RunObservation, grade, reward
from envfarm.verify.reruns import combine
from envfarm.verify.status import TestStatus as S

F2P = ["t.py::test_fix[a b]", "t.py::test_fix2"]
P2P = ["t.py::test_old"]
ALL_PASS = {t: S.PASSED for t in F2P + P2P}


def run(results: dict[str, S], exit_code: int | None = 0, **kw: object) -> RunObservation:
    return RunObservation(exit_code=exit_code, results=results, **kw)  # type: ignore[arg-type]


def test_all_expected_tests_pass_resolves() -> None:
    g = grade(F2P, P2P, run(ALL_PASS), [])
    assert g.outcome is Outcome.passed and reward(g) == 1.0
    assert g.tests.FAIL_TO_PASS == {"success": F2P, "failure": []}
    assert g.tests.FAIL_TO_FAIL == [] and g.tests.PASS_TO_FAIL == []


def test_skipped_or_xfail_fail_to_pass_is_a_failure() -> None:
    for status in (S.SKIPPED, S.XFAIL):
        g = grade(F2P, P2P, run({**ALL_PASS, F2P[1]: status}), [])
        assert g.outcome is Outcome.partial and [F2P[1]] == g.tests.FAIL_TO_FAIL
        assert reward(g) == 0.0 and reward(g, RewardPolicy.fraction) == 2 / 3


def test_pass_to_fail_is_reported_and_fails() -> None:
    g = grade(F2P, P2P, run({**ALL_PASS, P2P[0]: S.FAILED}, exit_code=1), [])
    assert g.outcome is Outcome.failed and g.tests.PASS_TO_FAIL == P2P


def test_summary_line_with_message_still_matches() -> None:
    results = {f"{F2P[0]} - boom": S.FAILED, F2P[1]: S.PASSED, P2P[0]: S.PASSED}
    assert [F2P[0]] == grade(F2P, P2P, run(results, exit_code=1), []).tests.FAIL_TO_FAIL


def test_nothing_parsed_is_invalid() -> None:
    g = grade(F2P, P2P, run({}, exit_code=5), [])
    assert g.outcome is Outcome.invalid and "no test result" in g.reason


def test_nonzero_exit_with_everything_passed_is_invalid_with_flag() -> None:
    g = grade(F2P, P2P, run(ALL_PASS, exit_code=1), [])
    assert g.outcome is Outcome.invalid and hacks.EXIT_CODE_MISMATCH in g.flags and reward(g) == 0.0


def test_zero_exit_with_failures_is_invalid() -> None:
    g = grade(F2P, P2P, run({**ALL_PASS, F2P[0]: S.FAILED}, exit_code=0), [])
    assert g.outcome is Outcome.invalid and hacks.EXIT_CODE_MISMATCH in g.flags


def test_log_disagreeing_with_junit_report_is_invalid() -> None:
    report = {**ALL_PASS, F2P[0]: S.FAILED}
    g = grade(F2P, P2P, run(ALL_PASS, report=report), [])
    assert g.outcome is Outcome.invalid and hacks.REPORT_MISMATCH in g.flags


def test_missing_tests_fail_and_are_flagged() -> None:
    g = grade(F2P, P2P, run({F2P[0]: S.PASSED, F2P[1]: S.PASSED}), [])
    assert g.outcome is Outcome.failed and hacks.TESTS_MISSING in g.flags and "did not run" in g.reason


def test_blocking_patch_flag_overrides_passing_tests() -> None:
    g = grade(F2P, P2P, run(ALL_PASS), [hacks.CONFTEST, hacks.TOUCHES_TEST_FILES])
    assert g.outcome is Outcome.invalid and "conftest" in g.reason and reward(g) == 0.0


def test_informational_flag_keeps_the_pass() -> None:
    g = grade(F2P, P2P, run(ALL_PASS), [hacks.TOUCHES_TASK_TESTS])
    assert g.outcome is Outcome.passed and g.flags == [hacks.TOUCHES_TASK_TESTS]


def test_timeout_and_signal_kill() -> None:
    assert grade(F2P, P2P, run({}, exit_code=None, timed_out=True), []).outcome is Outcome.timeout
    killed = grade(F2P, P2P, run({F2P[0]: S.PASSED}, exit_code=-9), [])
    assert killed.outcome is Outcome.failed and "signal 9" in killed.reason
    assert grade(F2P, P2P, run({}, exit_code=137), []).outcome is Outcome.failed


def test_fraction_reward_is_zero_for_invalid_and_timeout() -> None:
    g = grade(F2P, P2P, run({}, exit_code=None, timed_out=True), [])
    assert reward(g, RewardPolicy.fraction) == 0.0


def grades(*outcomes: tuple[Outcome, list[str]]) -> list[Grade]:
    out = []
    for outcome, passing in outcomes:
        results = {t: (S.PASSED if t in passing else S.FAILED) for t in F2P + P2P}
        g = grade(F2P, P2P, run(results, exit_code=0 if len(passing) == 3 else 1), [])
        assert g.outcome is outcome
        out.append(g)
    return out


def test_reruns_majority_confidence_and_flake_rates() -> None:
    every = F2P + P2P
    c = combine(grades((Outcome.passed, every), (Outcome.passed, every), (Outcome.partial, [F2P[0], *P2P])))
    assert c.grade.outcome is Outcome.passed and c.runs == 3
    assert abs(c.confidence - 2 / 3) < 1e-9 and c.flake_rates == {F2P[1]: 1 / 3}


def test_reruns_tie_goes_to_the_worse_outcome_and_invalid_wins() -> None:
    every = F2P + P2P
    c = combine(grades((Outcome.passed, every), (Outcome.failed, [])))
    assert c.grade.outcome is Outcome.failed and c.confidence == 0.5
    bad = grade(F2P, P2P, run(ALL_PASS, exit_code=1), [])
    assert combine([*grades((Outcome.passed, every)), bad]).grade.outcome is Outcome.invalid
