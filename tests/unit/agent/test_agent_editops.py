"""The editor's text edits and what bash and the editor show the model."""

from __future__ import annotations

import pytest

from envfarm.agent.editops import (
    EditRefused,
    clip,
    env_path,
    exec_observation,
    insert,
    numbered,
    snippet,
    str_replace,
)

TEXT = "a\nb\nc\nb2\n"


def test_numbered_whole_and_ranges() -> None:
    assert numbered(TEXT) == "1\ta\n2\tb\n3\tc\n4\tb2"
    assert numbered(TEXT, [2, 3]) == "2\tb\n3\tc"
    assert numbered(TEXT, [3, -1]) == "3\tc\n4\tb2"
    assert numbered("x" * 3) == "1\txxx"
    for bad in ([0, 2], [3, 2], [9, 10], [1]):
        with pytest.raises(EditRefused):
            numbered(TEXT, bad)


def test_str_replace_needs_exactly_one_match() -> None:
    assert str_replace(TEXT, "c\n", "C\nD\n") == ("a\nb\nC\nD\nb2\n", 3)
    with pytest.raises(EditRefused, match="not found"):
        str_replace(TEXT, "zzz", "y")
    with pytest.raises(EditRefused, match=r"occurs 2 times \(lines \[2, 4\]\)"):
        str_replace(TEXT, "b", "y")
    with pytest.raises(EditRefused, match="empty"):
        str_replace(TEXT, "", "y")


def test_insert_after_a_line() -> None:
    assert insert(TEXT, 0, "top") == "top\na\nb\nc\nb2\n"
    assert insert(TEXT, 4, "end\n") == "a\nb\nc\nb2\nend\n"
    assert insert("", 0, "x") == "x\n"
    with pytest.raises(EditRefused, match="outside"):
        insert(TEXT, 5, "x")


def test_snippet_and_clip() -> None:
    text = "\n".join(str(i) for i in range(1, 21))
    assert snippet(text, 10, 1).splitlines()[0] == " 6\t6"
    assert clip("abc", 10) == "abc"
    cut = clip("x" * 1000, 200)
    assert len(cut) < 260 and "characters cut" in cut and cut.startswith("x") and cut.endswith("x")


def test_env_path_maps_the_workdir_to_the_workspace() -> None:
    assert env_path("/testbed/src/a.py", "/testbed") == "src/a.py"
    assert env_path("/testbed", "/testbed/") == "."
    assert env_path("src/../a.py", "/testbed") == "a.py"
    assert env_path("/etc/passwd", "/testbed") == "/etc/passwd"
    assert env_path("/testbedx/a", "/testbed") == "/testbedx/a"


def test_exec_observation() -> None:
    assert exec_observation(0, "out\n", "", timed_out=False, timeout_s=5, limit=100) == "out\n[exit code 0]"
    text = exec_observation(1, "", "boom", timed_out=False, timeout_s=5, limit=100)
    assert text == "[stderr]\nboom\n[exit code 1]"
    assert "ran past 5s and was killed" in exec_observation(
        -9, "", "", timed_out=True, timeout_s=5, limit=100
    )
