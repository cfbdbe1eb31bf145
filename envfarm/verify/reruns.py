"""Reruns: one verdict from N graded runs, with confidence and per-test flake rates (pure).

An ``invalid`` run anywhere makes the whole verdict ``invalid`` (a hack is not voted away). Otherwise the
most common outcome wins, ties going to the worse outcome; confidence is the share of runs that agree with
it, and a test's flake rate is the share of runs where its pass/fail differs from its usual result.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from envfarm.models.verdict import Outcome
from envfarm.verify.grading import Grade

WORSE_FIRST = (Outcome.invalid, Outcome.timeout, Outcome.failed, Outcome.partial, Outcome.passed)


@dataclass(frozen=True)
class Combined:
    grade: Grade  # the representative run (first one with the chosen outcome)
    confidence: float
    flake_rates: dict[str, float]
    runs: int


def passed_tests(grade: Grade) -> set[str]:
    return set(grade.tests.FAIL_TO_PASS.get("success", [])) | set(grade.tests.PASS_TO_PASS.get("success", []))


def all_tests(grade: Grade) -> set[str]:
    parts = (grade.tests.FAIL_TO_PASS, grade.tests.PASS_TO_PASS)
    return {t for part in parts for key in ("success", "failure") for t in part.get(key, [])}


def flake_rates(grades: list[Grade]) -> dict[str, float]:
    """Tests whose pass/fail changed between runs, with the share of runs that went against the majority."""
    passes = Counter(t for g in grades for t in passed_tests(g))
    rates: dict[str, float] = {}
    for test in sorted(set().union(*(all_tests(g) for g in grades))):
        minority = min(passes[test], len(grades) - passes[test])
        if minority:
            rates[test] = minority / len(grades)
    return rates


def choose(outcomes: list[Outcome]) -> Outcome:
    if Outcome.invalid in outcomes:
        return Outcome.invalid
    counts = Counter(outcomes)
    best = max(counts.values())
    return next(o for o in WORSE_FIRST if counts.get(o) == best)


def combine(grades: list[Grade]) -> Combined:
    """Combine the grades of N runs of the same patch (N >= 1)."""
    if not grades:
        raise ValueError("combine() needs at least one graded run")
    outcome = choose([g.outcome for g in grades])
    chosen = next(g for g in grades if g.outcome is outcome)
    agree = sum(g.outcome is outcome for g in grades) / len(grades)
    return Combined(grade=chosen, confidence=agree, flake_rates=flake_rates(grades), runs=len(grades))
