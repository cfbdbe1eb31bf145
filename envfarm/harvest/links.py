"""Issue and pull-request references in commit and PR messages (pure)."""

from __future__ import annotations

import re

_KEYWORDS = r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)"
_CLOSING = re.compile(rf"\b{_KEYWORDS}\s*:?\s+(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<num>\d+)", re.IGNORECASE)
_CLOSING_URL = re.compile(
    rf"\b{_KEYWORDS}\s*:?\s+https?://[^\s/]+/(?P<repo>[\w.-]+/[\w.-]+)/issues/(?P<num>\d+)", re.IGNORECASE
)
_ISSUE_WORD = re.compile(r"\bissue\s*#?(?P<num>\d+)\b", re.IGNORECASE)
_GH = re.compile(r"\bGH-(?P<num>\d+)\b", re.IGNORECASE)
_SQUASH_TITLE = re.compile(r"\(#(?P<num>\d+)\)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #(?P<num>\d+) from \S+")


def closing_refs(text: str, repo: str = "") -> list[int]:
    """Issue numbers that GitHub's closing keywords link ("fixes #12", "Closes: owner/repo#3", a URL).

    References to another repository than ``repo`` are left out (when ``repo`` is given)."""
    found: list[int] = []
    for pattern in (_CLOSING, _CLOSING_URL):
        for match in pattern.finditer(text):
            other = match.group("repo")
            if other and repo and other.lower() != repo.lower():
                continue
            found.append(int(match.group("num")))
    return _unique(found)


def issue_refs(text: str, repo: str = "", exclude: tuple[int, ...] = ()) -> list[int]:
    """Every issue a message points to: closing keywords, "issue 12", "issue #12" and "GH-12"."""
    found = closing_refs(text, repo)
    for pattern in (_ISSUE_WORD, _GH):
        found.extend(int(m.group("num")) for m in pattern.finditer(text))
    return [n for n in _unique(found) if n not in exclude]


def squash_pr_number(title: str) -> int | None:
    """The PR number of a squash-merge title such as "Fix the parser (#123)"."""
    match = _SQUASH_TITLE.search(title.strip())
    return int(match.group("num")) if match else None


def merge_pr_number(subject: str) -> int | None:
    """The PR number of a GitHub merge commit subject "Merge pull request #12 from user/branch"."""
    match = _MERGE_PR.match(subject.strip())
    return int(match.group("num")) if match else None


def _unique(numbers: list[int]) -> list[int]:
    return list(dict.fromkeys(numbers))
