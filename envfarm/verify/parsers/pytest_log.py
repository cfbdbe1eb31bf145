"""pytest console logs: the ``-rA`` short test summary and verbose progress lines (pure).

The short summary is trusted over anything else in the log: captured output of a test (printed under
``-rA`` before the summary) may hold lines that look like results, so when a summary section exists only
its lines, and verbose lines for tests it does not name (skips), are read.
"""

from __future__ import annotations

import re

from envfarm.verify.status import TestMap, TestStatus

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY_HEADER = re.compile(r"^=+ short test summary info =+\s*$")
SECTION_END = re.compile(r"^=+ .* =+\s*$")
STATUS_FIRST = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S.*)$")
SKIP_LOCATION = re.compile(r"^\[\d+\] ")
STATUS_LAST = re.compile(
    r"^(?:\[gw\d+\] (?:\[\s*\d+%\] )?)?(?P<id>[^\s\[][^\[]*?::.*?) "
    r"(?P<st>PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)(?: \(.*\))?\s*(?:\[\s*\d+%\])?\s*$"
)
XDIST_FIRST = re.compile(r"^\[gw\d+\] (?:\[\s*\d+%\] )?(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S.*)$")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def split_node_id(rest: str) -> str:
    """The node id at the start of a summary line's tail ``ID [- message]``.

    A parametrised id may itself hold `` - `` (``test[a - b]``), so the id ends at the first `` - `` where
    its square brackets balance.
    """
    start = 0
    while True:
        cut = rest.find(" - ", start)
        if cut < 0:
            return rest.rstrip()
        head = rest[:cut]
        if head.count("[") <= head.count("]"):
            return head
        start = cut + 1


def parse_summary_line(line: str) -> tuple[str, TestStatus] | None:
    """One ``STATUS node-id [- message]`` line of the short summary, or None."""
    match = STATUS_FIRST.match(line) or XDIST_FIRST.match(line)
    if not match:
        return None
    status, rest = TestStatus(match.group(1)), match.group(2)
    if status is TestStatus.SKIPPED and SKIP_LOCATION.match(rest):
        return None  # "SKIPPED [1] path:line: reason" names no test
    test_id = split_node_id(rest)
    return (test_id, status) if test_id else None


def parse_verbose_line(line: str) -> tuple[str, TestStatus] | None:
    """One ``node-id STATUS [ 42%]`` progress line of ``pytest -v``, or None."""
    match = STATUS_LAST.match(line)
    return (match.group("id"), TestStatus(match.group("st"))) if match else None


def summary_lines(lines: list[str]) -> list[str] | None:
    """Lines of the last short-summary section, or None when the log has none."""
    starts = [i for i, line in enumerate(lines) if SUMMARY_HEADER.match(line)]
    if not starts:
        return None
    section: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        if SECTION_END.match(line):
            break
        section.append(line)
    return section


def progress_lines(lines: list[str]) -> list[str]:
    """Lines printed while tests run: up to the first report section (FAILURES, PASSES, summary ...)."""
    for i, line in enumerate(lines):
        if SECTION_END.match(line) and "test session starts" not in line:
            return lines[:i]
    return lines


def parse_log_pytest(log: str) -> TestMap:
    """{node id: status} from a pytest console log (``-rA`` summary and/or ``-v`` lines).

    With a summary section: verbose lines of the progress part (before any report section, so never a
    test's captured output) fill in what the summary does not name, then the summary wins. Without one,
    every line is read, as SWE-bench does.
    """
    lines = strip_ansi(log).split("\n")
    section = summary_lines(lines)
    results: TestMap = {}
    for line in lines if section is None else progress_lines(lines):
        found = parse_verbose_line(line) or (parse_summary_line(line) if section is None else None)
        if found is not None:
            results[found[0]] = found[1]
    for line in section or []:
        found = parse_summary_line(line)
        if found is not None:
            results[found[0]] = found[1]
    return results


OPTION = re.compile(r"^(.*?)\[(.*)\]$")


def normalise_option(test_id: str) -> str:
    """SWE-bench's ``parse_log_pytest_options`` rule: a path-like parameter keeps only its last part."""
    match = OPTION.match(test_id)
    if not match:
        return test_id
    main, option = match.groups()
    if option.startswith("/") and not option.startswith("//") and "*" not in option:
        option = "/" + option.split("/")[-1]
    return f"{main}[{option}]"


def parse_log_pytest_options(log: str) -> TestMap:
    return {normalise_option(k): v for k, v in parse_log_pytest(log).items()}
