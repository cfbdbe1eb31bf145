"""Log parsers on logs captured from real pytest 9 / unittest (3.10, 3.11) runs, and hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from envfarm.errors import VerifyError
from envfarm.verify.parsers import PARSERS, get_parser, is_pytest
from envfarm.verify.parsers.junit import parse_log_junit, parse_log_pytest_junit
from envfarm.verify.parsers.pytest_log import parse_log_pytest, parse_log_pytest_options, split_node_id
from envfarm.verify.parsers.unittest_log import parse_log_sympy, parse_log_unittest
from envfarm.verify.status import TestStatus as S

DATA = Path(__file__).parent / "data"
DEMO = "tests/test_demo.py::"
EXPECTED_PYTEST = {
    DEMO + "test_param[a b]": S.PASSED,
    DEMO + "test_param[x - y]": S.FAILED,
    DEMO + "test_param[[br]]": S.PASSED,
    DEMO + "test_param[caf\\xe9]": S.PASSED,
    DEMO + "test_param[\\xfc \\xf6]": S.PASSED,
    DEMO + "TestK::test_ok": S.PASSED,
    DEMO + "TestK::test_xf": S.XFAIL,
    DEMO + "TestK::test_xp": S.XPASS,
    DEMO + "test_err": S.ERROR,
}


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_pytest_short_summary_ignores_result_lookalikes_in_captured_output() -> None:
    log = read("pytest_rA.log")
    assert "PASSED tests/test_demo.py::test_fake" in log  # printed by the tests, shown under PASSES
    assert parse_log_pytest(log) == EXPECTED_PYTEST


def test_pytest_verbose_lines_give_skips_and_agree_with_summary() -> None:
    results = parse_log_pytest(read("pytest_v.log"))
    assert results == {**EXPECTED_PYTEST, DEMO + "TestK::test_skip": S.SKIPPED}


def test_pytest_junit_xunit1_rebuilds_exact_node_ids() -> None:
    results = parse_log_pytest_junit(read("pytest_xunit1.xml"))
    # JUnit has no XPASS: a non-strict xpass is a plain pass there.
    assert results == {
        **EXPECTED_PYTEST,
        DEMO + "TestK::test_skip": S.SKIPPED,
        DEMO + "TestK::test_xp": S.PASSED,
    }


def test_pytest_without_summary_reads_every_status_line_like_swebench() -> None:
    log = "PASSED a/test_x.py::test_one\nFAILED a/test_x.py::test_two - assert 0\nsome noise\n"
    assert parse_log_pytest(log) == {"a/test_x.py::test_one": S.PASSED, "a/test_x.py::test_two": S.FAILED}


def test_pytest_ansi_colours_xdist_and_unicode_ids() -> None:
    log = (
        "\x1b[32mPASSED\x1b[0m t/test_u.py::test_名前[ä ö]\n"
        "[gw1] [ 50%] FAILED t/test_u.py::test_x[1-2]\n"
        "[gw0] [100%] PASSED t/test_u.py::test_y \n"
    )
    assert parse_log_pytest(log) == {
        "t/test_u.py::test_名前[ä ö]": S.PASSED,
        "t/test_u.py::test_x[1-2]": S.FAILED,
        "t/test_u.py::test_y": S.PASSED,
    }


@pytest.mark.parametrize(
    ("rest", "node_id"),
    [
        ("t.py::test[a - b] - AssertionError: x - y", "t.py::test[a - b]"),
        ("t.py::test[x] - assert [1] == [2]", "t.py::test[x]"),
        ("t.py::test_plain", "t.py::test_plain"),
        ("t.py::test[a b] ", "t.py::test[a b]"),
        ("t.py - ImportError: no module", "t.py"),
    ],
)
def test_split_node_id_balances_brackets(rest: str, node_id: str) -> None:
    assert split_node_id(rest) == node_id


def test_pytest_interleaved_output_and_collection_error() -> None:
    log = (
        "t/test_a.py::test_one PASSED\n"
        "t/test_a.py::test_two hello from the test\n"
        "FAILED\n"
        "=========================== short test summary info ============================\n"
        "PASSED t/test_a.py::test_one\n"
        "FAILED t/test_a.py::test_two - ValueError\n"
        "ERROR t/test_b.py - ModuleNotFoundError: No module named 'gone'\n"
        "!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!\n"
        "========================= 1 failed, 1 passed, 1 error in 0.10s ==================\n"
        "PASSED t/test_a.py::test_two\n"  # printed after the run (atexit): outside the summary
    )
    assert parse_log_pytest(log) == {
        "t/test_a.py::test_one": S.PASSED,
        "t/test_a.py::test_two": S.FAILED,
        "t/test_b.py": S.ERROR,
    }


def test_pytest_options_keeps_last_part_of_path_parameters() -> None:
    log = "PASSED t.py::test_file[/tmp/x/data/a.txt]\nPASSED t.py::test_glob[/a/*.txt]\n"
    assert parse_log_pytest_options(log) == {
        "t.py::test_file[/a.txt]": S.PASSED,
        "t.py::test_glob[/a/*.txt]": S.PASSED,
    }


@pytest.mark.parametrize("name", ["unittest_py311.log", "unittest_py310.log"])
def test_unittest_verbose_docstrings_subtests_glued_output(name: str) -> None:
    where = "(pkg.test_u.TestU)"
    assert parse_log_unittest(read(name)) == {
        f"test_doc {where}": S.PASSED,
        f"test_err {where}": S.ERROR,
        f"test_fail {where}": S.FAILED,
        f"test_noisy {where}": S.PASSED,
        f"test_ok {where}": S.PASSED,
        f"test_skip {where}": S.SKIPPED,
        f"test_sub {where}": S.FAILED,
        f"test_xf {where}": S.XFAIL,
    }


def test_django_style_status_on_a_later_line() -> None:
    log = (
        "test_a (admin_views.tests.AdminViewTests) ... ok\n"
        "test_b (admin_views.tests.AdminViewTests) ... Creating table x\n"
        "ok\n"
        "test_c (admin_views.tests.AdminViewTests) ... unexpected success\n"
        "test_d (admin_views.tests.AdminViewTests) ... skipped 'Database has no feature'\n"
    )
    assert PARSERS["parse_log_django"](log) == {
        "test_a (admin_views.tests.AdminViewTests)": S.PASSED,
        "test_b (admin_views.tests.AdminViewTests)": S.PASSED,
        "test_c (admin_views.tests.AdminViewTests)": S.XPASS,
        "test_d (admin_views.tests.AdminViewTests)": S.SKIPPED,
    }


def test_sympy_log() -> None:
    log = (
        "sympy/core/tests/test_basic.py[3] \n"
        "test_a ok\ntest_b F\ntest_c E\ntest_d f\n"
        "________________ sympy/core/tests/test_basic.py:test_b ________________\n"
    )
    assert parse_log_sympy(log) == {
        "test_a": S.PASSED,
        "test_b": S.FAILED,
        "test_c": S.ERROR,
        "test_d": S.XFAIL,
        "sympy/core/tests/test_basic.py:test_b": S.FAILED,
    }


def test_generic_junit_nested_suites_and_reruns() -> None:
    xml = """<?xml version="1.0"?>
<testsuites><testsuite name="a"><testsuite name="b">
<testcase classname="com.acme.FooTest" name="adds"/>
<testcase classname="com.acme.FooTest" name="fails"><failure message="x"/></testcase>
<testcase classname="com.acme.FooTest" name="fails"/>
<testcase classname="com.acme.FooTest" name="skips"><skipped/></testcase>
<testcase name="bare"><error/></testcase>
</testsuite></testsuite></testsuites>"""
    assert parse_log_junit(xml) == {
        "com.acme.FooTest.adds": S.PASSED,
        "com.acme.FooTest.fails": S.PASSED,
        "com.acme.FooTest.skips": S.SKIPPED,
        "bare": S.ERROR,
    }


def test_pytest_junit_without_file_attribute_guesses_classes() -> None:
    xml = '<testsuite><testcase classname="pkg.tests.test_x.TestA" name="test_b[1 2]"/></testsuite>'
    assert parse_log_pytest_junit(xml) == {"pkg/tests/test_x.py::TestA::test_b[1 2]": S.PASSED}


@pytest.mark.parametrize(
    "xml",
    [
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>',
        "<testsuite><testcase name='x'>",
    ],
)
def test_junit_refuses_entities_and_broken_xml(xml: str) -> None:
    with pytest.raises(VerifyError, match="junit report"):
        parse_log_junit(xml)


def test_registry_knows_swebench_names_and_refuses_unknown() -> None:
    for name in (
        "parse_log_pytest",
        "parse_log_pytest_v2",
        "parse_log_django",
        "parse_log_sympy",
        "parse_log_junit",
    ):
        assert callable(get_parser(name))
    assert is_pytest("parse_log_matplotlib") and not is_pytest("parse_log_django")
    with pytest.raises(VerifyError, match="parse_log_nope"):
        get_parser("parse_log_nope")
