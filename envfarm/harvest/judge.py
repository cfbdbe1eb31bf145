"""Judge a candidate from its test runs in three states (pure).

States: ``base`` (the repo at its base commit), ``tests`` (base + test_patch) and ``gold`` (base +
test_patch + gold patch), each run N times. Rules:

- an id that does not appear in every run of a state (a timestamp in a parametrised id) is not a test;
- a test whose status differs between runs of one state is flaky: it never enters PASS_TO_PASS; a flaky
  test that already passed at base is left out, and a would-be FAIL_TO_PASS test that is flaky rejects the
  task (``flaky``);
- FAIL_TO_PASS: fails (or is absent) in every ``tests`` run and passes in every ``gold`` run;
- PASS_TO_PASS: passes in every run of both states;
- a test passing with test_patch alone but failing with the gold patch rejects it (``gold_fails``);
- the empty patch (which is the ``tests`` state) must score 0: graded by the ``probe`` given (the
  verifier's grading, wired in by the caller), else by this module's own rule (every expected test passes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from envfarm.harvest.ledger import Reason

_PASS = frozenset({"PASSED", "XPASS"})  # the verifier's TestStatus values that count as a pass
TestMap = Mapping[str, str]


@dataclass(frozen=True)
class Run:
    results: TestMap
    exit_code: int | None
    timed_out: bool = False
    memory_error: bool = False


@dataclass
class Judgement:
    reason: Reason
    detail: str = ""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    unstable_ids: list[str] = field(default_factory=list)
    probe_outcome: str = ""


def stable_ids(runs: list[Run]) -> tuple[set[str], set[str]]:
    """(ids present in every run, ids present in only some runs)."""
    sets = [set(r.results) for r in runs]
    if not sets:
        return set(), set()
    every = set.intersection(*sets)
    return every, set.union(*sets) - every


def flaky_ids(runs: list[Run], ids: set[str]) -> set[str]:
    return {t for t in ids if len({r.results[t] in _PASS for r in runs}) > 1}


def always(runs: list[Run], test: str, passing: bool) -> bool:
    return all((r.results.get(test) in _PASS) is passing for r in runs)


def broken_state(name: str, runs: list[Run]) -> Judgement | None:
    """A state whose runs timed out, ran out of memory or produced no parsable result."""
    if any(r.timed_out for r in runs):
        return Judgement(Reason.timeout, f"{name}: the test command ran past its time limit")
    if any(r.memory_error and not r.results for r in runs):
        return Judgement(Reason.out_of_memory, f"{name}: the test run was killed for memory")
    if not runs or any(not r.results for r in runs):
        codes = sorted({r.exit_code for r in runs if r.exit_code is not None})
        return Judgement(Reason.gold_fails if name == "gold" else Reason.test_patch_fails,
                         f"{name}: no test result parsed (exit codes {codes})")  # fmt: skip
    return None


Probe = Callable[[list[str], list[str], "Run"], str]  # (f2p, p2p, run) -> outcome ("pass", "fail" ...)


def own_probe(f2p: list[str], p2p: list[str], run: Run) -> str:
    return "pass" if all(run.results.get(t) in _PASS for t in f2p + p2p) else "fail"


def judge(base: list[Run], tests: list[Run], gold: list[Run], probe: Probe = own_probe) -> Judgement:
    for name, runs in (("gold", gold), ("tests", tests)):
        broken = broken_state(name, runs)
        if broken is not None:
            return broken
    gold_ids, gold_unstable = stable_ids(gold)
    test_ids, test_unstable = stable_ids(tests)
    base_ids, _ = stable_ids(base)
    flaky = flaky_ids(gold, gold_ids) | flaky_ids(tests, test_ids & gold_ids) | flaky_ids(base, base_ids)
    unstable = sorted(gold_unstable | test_unstable)
    known_flaky = {t for t in flaky if not always(base, t, False)}  # flaky before the change: not F2P
    candidates = [
        t for t in sorted(gold_ids - known_flaky) if not always(tests, t, True) and not always(gold, t, False)
    ]
    if bad := [t for t in candidates if t in flaky]:
        return Judgement(Reason.flaky, f"flaky FAIL_TO_PASS test(s): {bad[:5]}", flaky=sorted(flaky))
    f2p = [t for t in candidates if always(tests, t, False) and always(gold, t, True)]
    p2p = [t for t in sorted(gold_ids & test_ids - flaky) if always(tests, t, True) and always(gold, t, True)]
    judgement = Judgement(Reason.ok, "", f2p, p2p, sorted(flaky), unstable)
    if broke := [
        t for t in sorted(test_ids & gold_ids - flaky) if always(tests, t, True) and always(gold, t, False)
    ]:
        return _reject(judgement, Reason.gold_fails, f"gold patch breaks passing test(s): {broke[:5]}")
    if not f2p:
        return _reject(judgement, Reason.f2p_empty, "no test fails before the fix and passes after it")
    return _probe(judgement, tests, probe)


def _probe(judgement: Judgement, empty_patch_runs: list[Run], probe: Probe) -> Judgement:
    """The empty patch is the ``tests`` state: no run of it may grade as a pass (or partial)."""
    outcomes = {probe(judgement.fail_to_pass, judgement.pass_to_pass, r) for r in empty_patch_runs}
    judgement.probe_outcome = ",".join(sorted(outcomes))
    if scored := outcomes & {"pass", "partial"}:
        return _reject(judgement, Reason.probe_scored, f"the empty patch grades as {sorted(scored)}")
    return judgement


def _reject(judgement: Judgement, reason: Reason, detail: str) -> Judgement:
    judgement.reason, judgement.detail = reason, detail
    return judgement
