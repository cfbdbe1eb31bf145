"""Patch validation: unified diffs only, nothing that leaves the repo, writes .git or links outside."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envfarm.errors import PatchError
from envfarm.sandbox.patchcheck import parse_patch
from envfarm.sandbox.patching import apply_patch

GOOD = """diff --git a/src/x.py b/src/x.py
--- a/src/x.py
+++ b/src/x.py
@@ -1,2 +1,2 @@
 a = 1
-b = 2
+b = 3
"""


def _plain(path: str) -> str:
    return f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-x\n+y\n"


def test_good_patch_is_summarised() -> None:
    assert parse_patch(GOOD).paths == ["src/x.py"]
    assert parse_patch(_plain("a.txt") + _plain("b.txt")).paths == ["a.txt", "b.txt"]


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (_plain("../../etc/passwd"), "leaves the repository"),
        ("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-x\n+y\n", "absolute path"),
        (_plain(".git/hooks/pre-commit"), "writes into .git"),
        (_plain("sub/.GIT/config"), "writes into .git"),
        ("diff --git a/x b/../y\nrename from x\nrename to ../y\n", "leaves the repository"),
        ("just some text\n", "not a unified diff"),
        ("--- a/x\n+++ b/x\n@@ garbage @@\n", "malformed hunk"),
    ],
)
def test_bad_patches_are_refused(patch: str, reason: str) -> None:
    with pytest.raises(PatchError, match=reason):
        parse_patch(patch)


def _symlink_patch(target: str) -> str:
    return (
        "diff --git a/link b/link\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/link\n"
        f"@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
    )


def test_symlink_escape_is_refused() -> None:
    with pytest.raises(PatchError, match="points outside"):
        parse_patch(_symlink_patch("/etc/passwd"))
    with pytest.raises(PatchError, match="points outside"):
        parse_patch(_symlink_patch("../../home"))
    assert parse_patch(_symlink_patch("src/x.py")).files[0].symlink


def test_hunk_lines_that_look_like_headers_are_content() -> None:
    patch = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n--- /etc/passwd\n+++ ../y\n"
    assert parse_patch(patch).paths == ["x"]


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "x.py").write_text("a = 1\nb = 2\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_apply_reports_the_method(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert apply_patch(repo, GOOD).method == "git apply"
    assert (repo / "src" / "x.py").read_text() == "a = 1\nb = 3\n"


def test_fuzzy_patch_falls_back_to_patch(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "src" / "x.py").write_text("a = 10\nb = 2\n")
    assert apply_patch(repo, GOOD).method == "patch --fuzz"  # its context line `a = 1` is stale
    assert (repo / "src" / "x.py").read_text() == "a = 10\nb = 3\n"


def test_not_applying_leaves_the_tree_untouched(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(PatchError, match="does not apply"):
        apply_patch(repo, GOOD.replace("-b = 2", "-b = 99").replace(" a = 1", " zzz"))
    assert (repo / "src" / "x.py").read_text() == "a = 1\nb = 2\n"
    assert sorted(p.name for p in (repo / "src").iterdir()) == ["x.py"]


def test_existing_symlink_dir_cannot_be_written_through(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("x\n")
    (repo / "link").symlink_to(outside)
    with pytest.raises(PatchError, match="symlink"):
        apply_patch(repo, _plain("link/f"))
    assert (outside / "f").read_text() == "x\n"
