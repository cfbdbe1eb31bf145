"""JUnit XML reports, from any runner that writes them, and pytest node ids rebuilt from them (pure).

Documents with a DOCTYPE or entity declarations are refused: a report is untrusted input and entity
expansion is the classic way to blow up an XML parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

from envfarm.errors import VerifyError
from envfarm.verify.status import TestMap, TestStatus

UNSAFE = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def testcases(xml_text: str) -> Iterator[ET.Element]:
    if UNSAFE.search(xml_text):
        raise VerifyError("junit report: DOCTYPE/ENTITY declarations are not accepted")
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise VerifyError(f"junit report: not well-formed XML ({exc})") from exc
    yield from root.iter("testcase")


def case_status(case: ET.Element) -> TestStatus:
    if case.find("error") is not None:
        return TestStatus.ERROR
    if case.find("failure") is not None:
        return TestStatus.FAILED
    skipped = case.find("skipped")
    if skipped is None:
        return TestStatus.PASSED
    return TestStatus.XFAIL if skipped.get("type") == "pytest.xfail" else TestStatus.SKIPPED


def generic_id(case: ET.Element) -> str:
    """``classname.name`` (or ``name`` alone), the usual JUnit test id."""
    classname, name = case.get("classname", ""), case.get("name", "")
    return f"{classname}.{name}" if classname else name


def pytest_id(case: ET.Element) -> str:
    """The pytest node id of a testcase: exact with ``junit_family=xunit1`` (which writes ``file``)."""
    classname, name = case.get("classname", ""), case.get("name", "")
    path = case.get("file", "")
    if path.endswith(".py"):
        module = path[:-3].replace("/", ".")
        classes = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        return "::".join([path, *filter(None, classes.split(".")), name])
    parts = classname.split(".")
    split = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts))
    module = "/".join(parts[:split]) + ".py" if split else ""
    return "::".join(filter(None, [module, *parts[split:], name]))


def parse_junit(xml_text: str, make_id: Callable[[ET.Element], str] = generic_id) -> TestMap:
    """{test id: status} for every testcase; a test reported twice (reruns) keeps its last result."""
    results: TestMap = {}
    for case in testcases(xml_text):
        test_id = make_id(case)
        if test_id:
            results[test_id] = case_status(case)
    return results


def parse_log_junit(xml_text: str) -> TestMap:
    return parse_junit(xml_text, generic_id)


def parse_log_pytest_junit(xml_text: str) -> TestMap:
    return parse_junit(xml_text, pytest_id)
