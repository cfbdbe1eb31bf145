"""Log parsers, keyed by the ``log_parser`` names SWE-bench and SWE-rebench records use (pure).

Each parser turns one log (or one JUnit XML report) into ``{test id: TestStatus}``.
"""

from __future__ import annotations

from collections.abc import Callable

from envfarm.errors import VerifyError
from envfarm.verify.parsers.junit import parse_log_junit, parse_log_pytest_junit
from envfarm.verify.parsers.pytest_log import parse_log_pytest, parse_log_pytest_options
from envfarm.verify.parsers.unittest_log import parse_log_sympy, parse_log_unittest
from envfarm.verify.status import TestMap

Parser = Callable[[str], TestMap]

# SWE-bench names one parser per repository; most of them are pytest with small twists that the pytest
# parser already covers (ANSI codes, verbose lines, xdist prefixes).
PYTEST_ALIASES = (
    "parse_log_pytest_v2",
    "parse_log_astroid",
    "parse_log_flask",
    "parse_log_marshmallow",
    "parse_log_matplotlib",
    "parse_log_pvlib",
    "parse_log_pydicom",
    "parse_log_pylint",
    "parse_log_pyvista",
    "parse_log_requests",
    "parse_log_seaborn",
    "parse_log_sphinx",
    "parse_log_sqlfluff",
    "parse_log_xarray",
    "parse_log_astropy",
    "parse_log_scikit_learn",
)

PARSERS: dict[str, Parser] = {
    "parse_log_pytest": parse_log_pytest,
    "parse_log_pytest_options": parse_log_pytest_options,
    "parse_log_pytest_junit": parse_log_pytest_junit,
    "parse_log_junit": parse_log_junit,
    "parse_log_unittest": parse_log_unittest,
    "parse_log_django": parse_log_unittest,
    "parse_log_sympy": parse_log_sympy,
    **dict.fromkeys(PYTEST_ALIASES, parse_log_pytest),
}

JUNIT_PARSERS = frozenset({"parse_log_pytest_junit", "parse_log_junit"})


def get_parser(name: str) -> Parser:
    try:
        return PARSERS[name]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise VerifyError(
            f"unknown log_parser {name!r} (install_config.log_parser); known: {known}"
        ) from None


def is_pytest(name: str) -> bool:
    """Whether ``name`` reads pytest output (so a JUnit report can be asked of pytest and cross-checked)."""
    return get_parser(name) in (parse_log_pytest, parse_log_pytest_options)


__all__ = ["JUNIT_PARSERS", "PARSERS", "Parser", "get_parser", "is_pytest", "parse_log_pytest_junit"]
