"""Unified diffs as a list of per-file chunks (pure: no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^diff --git a/(?P<old>.+?) b/(?P<new>.+)$")


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a git diff: its paths, its text and its size."""

    old_path: str
    new_path: str
    text: str
    added: int
    removed: int
    binary: bool

    @property
    def path(self) -> str:
        """The path the change is about: the new path, or the old one for a deletion."""
        return self.old_path if self.new_path == "/dev/null" else self.new_path


def split_files(diff: str) -> list[FileDiff]:
    """Cut a ``git diff`` text into one :class:`FileDiff` per ``diff --git`` header."""
    chunks: list[list[str]] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git "):
            chunks.append([])
        if chunks:
            chunks[-1].append(line)
    return [_file_diff(chunk) for chunk in chunks]


def _file_diff(lines: list[str]) -> FileDiff:
    match = _HEADER.match(lines[0].rstrip("\n"))
    old = new = match.group("new") if match else lines[0].split()[-1]
    if match:
        old = match.group("old")
    added = removed = 0
    in_hunk = binary = False
    for line in lines[1:]:
        if line.startswith("@@"):
            in_hunk = True
        elif not in_hunk and line.startswith(("--- ", "+++ ")):
            continue
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            binary = True
        elif in_hunk and line.startswith("+"):
            added += 1
        elif in_hunk and line.startswith("-"):
            removed += 1
    if any(line.startswith("deleted file mode") for line in lines[1:5]):
        new = "/dev/null"
    return FileDiff(old, new, "".join(lines), added, removed, binary)


def join_files(files: list[FileDiff]) -> str:
    """The diff text of the given file chunks, in order."""
    return "".join(f.text for f in files)
