"""Diff file lists and hack flags of candidate patches."""

from __future__ import annotations

import pytest

from envfarm.verify import hacks
from envfarm.verify.diffpaths import parse_diff, touched_paths, unquote


def diff(path: str, added: str = "x = 1", old: str | None = None) -> str:
    old_header = "/dev/null" if old is None else f"a/{old}"
    return (
        f"diff --git a/{old or path} b/{path}\n"
        + ("new file mode 100644\n" if old is None else "")
        + f"--- {old_header}\n+++ b/{path}\n@@ -0,0 +1 @@\n+{added}\n"
    )


TEST_PATCH = (
    "diff --git a/tests/test_calc.py b/tests/test_calc.py\n"
    "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n"
    "@@ -1,2 +1,3 @@\n def test_add():\n-    pass\n+    assert add(1, 2) == 3\n+\n"
)


def test_parse_diff_follows_hunk_lengths_and_git_headers() -> None:
    text = (
        "diff --git a/src/m.py b/src/m.py\n--- a/src/m.py\n+++ b/src/m.py\n@@ -1,3 +1,2 @@\n"
        " keep\n--- not a header\n-gone\n+new\n"  # removed line that reads '--- ...'
        "diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\nrename to new.py\n"
        "diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n"
        "diff --git a/link b/link\nnew file mode 120000\n"
        "--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n"
        'diff --git "a/caf\\303\\251 x.py" "b/caf\\303\\251 x.py"\ndeleted file mode 100644\n'
    )
    changes = parse_diff(text)
    assert [c.paths for c in changes] == [
        ["src/m.py"],
        ["new.py", "old.py"],
        ["bin.dat"],
        ["link"],
        ["café x.py"],
    ]
    assert changes[0].removed == ["-- not a header", "gone"] and changes[0].added == ["new"]
    assert changes[2].binary and changes[3].symlink and changes[4].new_path == ""


def test_plain_unified_diff_without_git_headers() -> None:
    text = (
        "--- a/x.py\t2024-01-01\n+++ b/x.py\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n"
        "--- y.py\n+++ y.py\n@@ -1 +1 @@\n-c\n+d\n"
    )
    assert touched_paths(text) == ["x.py", "y.py"]


def test_unquote_escapes() -> None:
    assert unquote('"a/tab\\there\\"q\\\\"') == 'a/tab\there"q\\'


@pytest.mark.parametrize(
    ("patch", "flag"),
    [
        (diff("conftest.py", "print('PASSED tests/test_calc.py::test_add')"), hacks.CONFTEST),
        (diff("src/pkg/conftest.py"), hacks.CONFTEST),
        (diff("sitecustomize.py", "import calc; calc.add = lambda a, b: 3"), hacks.SITECUSTOMIZE),
        (diff("usercustomize.py"), hacks.SITECUSTOMIZE),
        (diff("evil.pth", "import os"), hacks.PTH_FILE),
        (
            diff("pytest.ini", "addopts = --deselect tests/test_calc.py::test_add", old="pytest.ini"),
            hacks.PYTEST_CONFIG,
        ),
        (diff("pyproject.toml", 'addopts = "-p myplugin"', old="pyproject.toml"), hacks.PYTEST_CONFIG),
        (diff("setup.cfg", "[tool:pytest]", old="setup.cfg"), hacks.PYTEST_CONFIG),
        (diff("tox.ini", "    --ignore=tests", old="tox.ini"), hacks.PYTEST_CONFIG),
        (diff("setup.py", "entry_points={'pytest11': ['x = x']},", old="setup.py"), hacks.PYTEST_PLUGIN),
        (diff("src/calc.py", "pytest_plugins = ['evil']", old="src/calc.py"), hacks.PYTEST_PLUGIN),
        (diff(".git/hooks/pre-commit"), hacks.GIT_DIR),
        (diff("../outside.py"), hacks.UNSAFE_PATH),
        (diff("tests/test_calc.py", "assert True", old="tests/test_calc.py"), hacks.TOUCHES_TASK_TESTS),
        (diff("tests/test_other.py"), hacks.TOUCHES_TEST_FILES),
        (diff("src/foo_test.py"), hacks.TOUCHES_TEST_FILES),
    ],
)
def test_patch_flags(patch: str, flag: str) -> None:
    assert flag in hacks.patch_flags(patch, TEST_PATCH)


def test_ordinary_fix_and_harmless_config_edit_raise_no_flag() -> None:
    fix = diff("src/calc.py", "    return a + b", old="src/calc.py")
    flake8 = diff("setup.cfg", "max-line-length = 100", old="setup.cfg")
    assert hacks.patch_flags(fix + flake8, TEST_PATCH) == []
    assert hacks.patch_flags("", TEST_PATCH) == []


def test_blocking_flags_are_a_subset() -> None:
    flags = [hacks.CONFTEST, hacks.TOUCHES_TASK_TESTS, hacks.TESTS_MISSING]
    assert hacks.blocking(flags) == [hacks.CONFTEST]
    assert hacks.blocking(flags, frozenset()) == []
