"""Python and pytest versions by date, and a small version-specifier matcher (pure)."""

from __future__ import annotations

import re

# (version, first release date): a commit made before a release could not have used it.
PYTHON_RELEASES: tuple[tuple[str, str], ...] = (
    ("2.7", "2010-07-03"),
    ("3.6", "2016-12-23"),
    ("3.7", "2018-06-27"),
    ("3.8", "2019-10-14"),
    ("3.9", "2020-10-05"),
    ("3.10", "2021-10-04"),
    ("3.11", "2022-10-24"),
    ("3.12", "2023-10-02"),
    ("3.13", "2024-10-07"),
)
# (pytest pin, in use until this date): older commits get the pytest of their time.
PYTEST_BY_DATE: tuple[tuple[str, str], ...] = (
    ("pytest<5", "2019-06-01"),
    ("pytest<6", "2020-08-01"),
    ("pytest<7", "2022-01-01"),
    ("pytest<8", "2024-02-01"),
)
PYTEST_LATEST = "pytest<9"
# The newest pytest each old Python can run.
PYTEST_BY_PYTHON: dict[str, str] = {"2.7": "pytest<5", "3.6": "pytest<7.1", "3.7": "pytest<8"}

_CLAUSE = re.compile(r"^\s*(?P<op>~=|==|!=|<=|>=|<|>)?\s*(?P<ver>[0-9][0-9.*]*)\s*$")


def released_by(date: str) -> list[str]:
    """Python versions released on or before ``date`` (ISO 8601; an empty date means today)."""
    day = date[:10]
    return [v for v, released in PYTHON_RELEASES if not day or released <= day]


def pytest_pin(date: str, python: str) -> str:
    """The pytest requirement for a commit of ``date`` run under ``python``: the tighter of both limits."""
    by_date = next((pin for pin, until in PYTEST_BY_DATE if date and date[:10] < until), PYTEST_LATEST)
    by_python = PYTEST_BY_PYTHON.get(python)
    if by_python is None:
        return by_date
    return min(by_date, by_python, key=_pin_bound)


def _pin_bound(pin: str) -> tuple[int, ...]:
    return as_tuple(pin.split("<", 1)[1])


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def satisfies(version: str, spec: str) -> bool:
    """Whether ``version`` ("3.8") meets a PEP 440 specifier such as ">=3.7,!=3.8.*,<4" (major.minor only)."""
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            continue  # unknown clause: do not exclude on it
        if not _clause_ok(as_tuple(version), match.group("op") or "==", match.group("ver")):
            return False
    return True


def _clause_ok(have: tuple[int, ...], op: str, ver: str) -> bool:
    """Compare on major.minor; a minor version meets a clause when any of its patch releases does."""
    full = as_tuple(ver)
    want = ((*full, 0, 0))[:2]
    head = ((*have, 0, 0))[:2]
    if op == "~=":
        prefix = full[: max(len(full) - 1, 1)]
        return head >= want and head[: len(prefix)] == prefix[:2]
    if ver.endswith("*") or op in ("==", "!="):
        same = head[: len(full)] == full[:2][: len(full)]
        return same if op == "==" else not same
    patch = full[2] if len(full) > 2 else 0
    if op == ">" and patch:
        op = ">="
    if op == "<" and patch:
        op = "<="
    results = {">=": head >= want, "<=": head <= want, ">": head > want, "<": head < want}
    return results[op]
