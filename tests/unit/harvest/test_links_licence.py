from __future__ import annotations

import pytest

from envfarm.harvest.licence import allowed, detect_spdx
from envfarm.harvest.links import closing_refs, issue_refs, merge_pr_number, squash_pr_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fixes #12", [12]),
        ("this closes #3 and resolves #4", [3, 4]),
        ("Fixed: #7", [7]),
        ("fix #1, fix #1 again", [1]),
        ("Resolves https://github.com/o/r/issues/99", [99]),
        ("closes o/r#5", [5]),
        ("closes other/repo#5", []),
        ("see #12 for context", []),
        ("prefix#12 fixes nothing", []),
    ],
)
def test_closing_refs(text: str, expected: list[int]) -> None:
    assert closing_refs(text, "o/r") == expected


def test_issue_refs_cover_issue_word_and_gh_prefix_and_exclude_the_pr() -> None:
    text = "Handle empty input (#40)\n\nSee issue 12, also issue #13 and GH-14. Fixes #15."
    assert issue_refs(text, "o/r", exclude=(40,)) == [15, 12, 13, 14]
    assert issue_refs("tissue 12 and ugh-3") == []


def test_pr_numbers_from_titles() -> None:
    assert squash_pr_number("Fix the parser (#123)") == 123
    assert squash_pr_number("Fix the parser (#123) again") is None
    assert merge_pr_number("Merge pull request #12 from someone/branch") == 12
    assert merge_pr_number("Merge branch 'main' into feature") is None


MIT = """MIT License\n\nCopyright (c) 2020 x\n\nPermission is hereby granted, free of charge, to any person
obtaining a copy of this software"""
BSD3 = """Redistribution and use in source and binary forms, with or without modification, are permitted...
3. Neither the name of the copyright holder nor the names"""
GPL3 = "GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007"


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        (MIT, "MIT"),
        (BSD3, "BSD-3-Clause"),
        (BSD3.split("3.")[0], "BSD-2-Clause"),
        (GPL3, "GPL-3.0"),
        ("Apache License\n Version 2.0, January 2004", "Apache-2.0"),
        ("# SPDX-License-Identifier: MPL-2.0\n", "MPL-2.0"),
        ("All rights reserved.", None),
    ],
)
def test_detect_spdx(text: str, spdx: str | None) -> None:
    assert detect_spdx(text) == spdx


def test_allow_list() -> None:
    assert allowed("mit") and allowed("Apache-2.0")
    assert not allowed("GPL-3.0") and not allowed(None)
    assert allowed("GPL-3.0", frozenset({"GPL-3.0"}))
