"""Per-test statuses every log parser returns (pure)."""

from __future__ import annotations

from enum import StrEnum


class TestStatus(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"
    XFAIL = "XFAIL"
    XPASS = "XPASS"

    __test__ = False  # not a pytest test class


TestMap = dict[str, TestStatus]

# A FAIL_TO_PASS test must really run and pass: PASSED, or XPASS (a non-strict xfail marker that now
# passes still proves the fix); SKIPPED and XFAIL are failures. A PASS_TO_PASS test may stay an xfail.
F2P_OK = frozenset({TestStatus.PASSED, TestStatus.XPASS})
P2P_OK = frozenset({TestStatus.PASSED, TestStatus.XPASS, TestStatus.XFAIL})
BAD = frozenset({TestStatus.FAILED, TestStatus.ERROR})


def merge(into: TestMap, more: TestMap) -> TestMap:
    """Merge ``more`` into ``into``; a test seen twice keeps its worst status (a failure wins)."""
    for test_id, status in more.items():
        if test_id not in into or status in BAD:
            into[test_id] = status
    return into
