from __future__ import annotations

from envfarm.harvest.judge import Run, judge
from envfarm.harvest.ledger import Reason
from envfarm.verify.status import TestStatus

P, F, E = TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR


def run(**results: TestStatus) -> Run:
    exit_code = 1 if any(s in (F, E) for s in results.values()) else 0
    return Run(results={k.replace("__", "::"): v for k, v in results.items()}, exit_code=exit_code)


def three(**results: TestStatus) -> list[Run]:
    return [run(**results)] * 3


def test_clean_task() -> None:
    base = three(t__old=P)
    got = judge(base, three(t__old=P, t__new=F), three(t__old=P, t__new=P))
    assert got.reason is Reason.ok and got.fail_to_pass == ["t::new"] and got.pass_to_pass == ["t::old"]
    assert got.probe_outcome == "fail"


def test_absent_in_tests_state_counts_as_failing() -> None:
    got = judge([], three(t__old=P), three(t__old=P, t__new=P))
    assert got.fail_to_pass == ["t::new"]


def test_f2p_empty_when_new_tests_pass_before_the_fix() -> None:
    got = judge([], three(t__old=P, t__new=P), three(t__old=P, t__new=P))
    assert got.reason is Reason.f2p_empty


def test_flaky_f2p_rejects_and_preexisting_flaky_leaves_p2p() -> None:
    flaky_gold = [run(t__old=P, t__new=P), run(t__old=P, t__new=F), run(t__old=P, t__new=P)]
    assert judge([], three(t__old=P, t__new=F), flaky_gold).reason is Reason.flaky
    base = [run(t__old=P, t__jit=P), run(t__old=P, t__jit=F), run(t__old=P, t__jit=P)]
    tests = [
        run(t__old=P, t__jit=F, t__new=F),
        run(t__old=P, t__jit=P, t__new=F),
        run(t__old=P, t__jit=F, t__new=F),
    ]
    gold = [
        run(t__old=P, t__jit=P, t__new=P),
        run(t__old=P, t__jit=F, t__new=P),
        run(t__old=P, t__jit=P, t__new=P),
    ]
    got = judge(base, tests, gold)
    assert got.reason is Reason.ok
    assert got.fail_to_pass == ["t::new"] and got.pass_to_pass == ["t::old"] and got.flaky == ["t::jit"]


def test_ids_that_change_between_runs_are_not_tests() -> None:
    gold = [run(t__new=P, **{f"t__stamp_{i}": P}) for i in range(3)]
    tests = [run(t__new=F, **{f"t__stamp_{i + 5}": P}) for i in range(3)]
    got = judge([], tests, gold)
    assert got.fail_to_pass == ["t::new"] and got.pass_to_pass == []
    assert "t::stamp_0" in got.unstable_ids


def test_gold_breaking_a_passing_test() -> None:
    got = judge([], three(t__old=P, t__new=F), three(t__old=F, t__new=P))
    assert got.reason is Reason.gold_fails and "t::old" in got.detail


def test_broken_states() -> None:
    timed = [Run({}, None, timed_out=True)] * 3
    assert judge([], timed, three(t__new=P)).reason is Reason.timeout
    oom = [Run({}, 137, memory_error=True)] * 3
    assert judge([], oom, three(t__new=P)).reason is Reason.out_of_memory
    assert judge([], three(t__new=F), [Run({}, 2)] * 3).reason is Reason.gold_fails
