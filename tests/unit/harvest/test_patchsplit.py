from __future__ import annotations

from envfarm.harvest.diffs import split_files
from envfarm.harvest.filters import gold_fingerprint
from envfarm.harvest.languages import PathRules, language
from envfarm.harvest.patchsplit import split_patch
from envfarm.store.keys import patch_fingerprint


def file_diff(path: str, added: list[str], removed: list[str] = (), start: int = 1) -> str:  # type: ignore[assignment]
    body = "".join(f"-{r}\n" for r in removed) + "".join(f"+{a}\n" for a in added)
    return (
        f"diff --git a/{path} b/{path}\nindex 111..222 100644\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{len(removed)} +{start},{len(added)} @@ def f():\n{body}"
    )


DIFF = (
    file_diff("pkg/core.py", ["return 2"], ["return 1"])
    + file_diff("tests/test_core.py", ["def test_two():", "    assert f() == 2"])
    + file_diff("pkg/tests/helpers.py", ["X = 1"])
    + file_diff("pkg/core_test.py", ["Y = 1"])
    + file_diff("conftest.py", ["import os"])
    + file_diff("docs/index.rst", ["words"])
)


def test_split_by_default_rules() -> None:
    split = split_patch(DIFF)
    assert [f.path for f in split.gold_files] == ["pkg/core.py", "docs/index.rst"]
    assert [f.path for f in split.test_files] == [
        "tests/test_core.py",
        "pkg/tests/helpers.py",
        "pkg/core_test.py",
        "conftest.py",
    ]
    assert split.gold_lines == 3 and split.test_lines == 5
    assert split.gold + split.tests != DIFF  # reordered, but every chunk kept
    assert sorted(split.gold.splitlines() + split.tests.splitlines()) == sorted(DIFF.splitlines())


def test_configurable_rules() -> None:
    rules = PathRules(test_dirs=(), test_names=(), test_globs=("docs/*",))
    split = split_patch(DIFF, rules)
    assert [f.path for f in split.test_files] == ["docs/index.rst"]


def test_deleted_and_binary_files() -> None:
    text = (
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\nindex 1..0\n--- a/old.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-x = 1\n"
        "diff --git a/img.png b/img.png\nindex 1..2 100644\nBinary files a/img.png and b/img.png differ\n"
    )
    files = split_files(text)
    assert files[0].path == "old.py" and files[0].removed == 1 and files[0].new_path == "/dev/null"
    assert files[1].binary and not files[0].binary


def test_gold_fingerprint_ignores_line_numbers_and_context() -> None:
    one = file_diff("pkg/core.py", ["return 2"], ["return 1"], start=10)
    moved = file_diff("pkg/core.py", ["return 2  "], ["return 1"], start=250).replace("def f", "def g")
    other = file_diff("pkg/core.py", ["return 3"], ["return 1"], start=10)
    elsewhere = file_diff("pkg/other.py", ["return 2"], ["return 1"], start=10)
    assert gold_fingerprint(one) == gold_fingerprint(moved)
    assert len({gold_fingerprint(one), gold_fingerprint(other), gold_fingerprint(elsewhere)}) == 3
    assert gold_fingerprint("") == ""


def test_gold_fingerprint_is_the_task_stores() -> None:
    """The harvester's duplicate check and the task store's backport refusal hash patches alike."""
    one = file_diff("pkg/core.py", ["return 2"], ["return 1"], start=10)
    assert gold_fingerprint(one) == patch_fingerprint(one)


def test_language_registry() -> None:
    python = language("python")
    assert python.is_source("a/b.py") and not python.is_source("a/b.js")
    try:
        language("cobol")
    except KeyError as exc:
        assert "python" in str(exc)
    else:
        raise AssertionError("unknown language accepted")
