"""unittest-style logs: ``python -m unittest -v``, Django's ``runtests.py -v 2``, sympy's ``bin/test`` (pure).

Test ids use the classic unittest form ``test_name (module.Class)``; Python 3.11+ prints
``test_name (module.Class.test_name)``, which is folded to the classic form so ids match SWE-bench records.
"""

from __future__ import annotations

import re

from envfarm.verify.parsers.pytest_log import strip_ansi
from envfarm.verify.status import TestMap, TestStatus

HEAD = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*) \((?P<where>[\w.]+)\)(?: \(.*\))?\s*$")
FAIL_HEADER = re.compile(r"^(FAIL|ERROR): (?P<name>[A-Za-z_]\w*) \((?P<where>[\w.]+)\)")
SEPARATOR = " ... "
WORDS = {
    "ok": TestStatus.PASSED,
    "OK": TestStatus.PASSED,
    "FAIL": TestStatus.FAILED,
    "ERROR": TestStatus.ERROR,
    "expected failure": TestStatus.XFAIL,
    "unexpected success": TestStatus.XPASS,
}
GLUED = re.compile(r"(ok|FAIL|ERROR)$")  # a status printed right after a test's own output


def unittest_id(name: str, where: str) -> str:
    if where.endswith("." + name):
        where = where[: -len(name) - 1]
    return f"{name} ({where})"


def status_word(text: str, last: bool) -> TestStatus | None:
    word = text.strip()
    if word in WORDS:
        return WORDS[word]
    if word.startswith("skipped"):
        return TestStatus.SKIPPED
    glued = GLUED.search(word) if last else None
    return WORDS[glued.group(1)] if glued else None


def parse_log_unittest(log: str) -> TestMap:
    """{``name (module.Class)``: status} from a verbose unittest (or Django) run.

    A line is cut at each `` ... ``: a piece may open a test (``name (module.Class)``, also after a
    subtest that printed no status), carry its status, or be output the test printed; a test whose
    status comes on a later line (docstrings, output) stays pending until it does.
    """
    results: TestMap = {}
    pending: str | None = None
    for line in strip_ansi(log).split("\n"):
        failed = FAIL_HEADER.match(line)
        if failed:
            bad = TestStatus.FAILED if failed.group(1) == "FAIL" else TestStatus.ERROR
            results[unittest_id(failed["name"], failed["where"])] = bad
            continue
        pieces = line.split(SEPARATOR)
        for index, piece in enumerate(pieces):
            head = HEAD.match(piece)
            if head:
                pending = unittest_id(head["name"], head["where"])
                continue
            status = status_word(piece, last=index == len(pieces) - 1) if pending else None
            if pending and status is not None:
                results.setdefault(pending, status)
                pending = None
    return results


SYMPY_LINE = re.compile(r"^(test_\w+) (ok|F|E|f|s|X)$")
SYMPY_FAIL = re.compile(r"^_+ (\S+\.py:\S+) _+$")
SYMPY_WORDS = {
    "ok": TestStatus.PASSED,
    "F": TestStatus.FAILED,
    "E": TestStatus.ERROR,
    "f": TestStatus.XFAIL,
    "s": TestStatus.SKIPPED,
    "X": TestStatus.XPASS,
}


def parse_log_sympy(log: str) -> TestMap:
    """{test name: status} from sympy's ``bin/test -v`` output (SWE-bench's rule)."""
    results: TestMap = {}
    for raw in strip_ansi(log).split("\n"):
        line = raw.strip()
        match = SYMPY_LINE.match(line)
        if match:
            results[match.group(1)] = SYMPY_WORDS[match.group(2)]
        failure = SYMPY_FAIL.match(line)
        if failure:
            results[failure.group(1)] = TestStatus.FAILED
    return results
