"""Validation of untrusted patches (pure: no I/O).

A patch must be a unified diff (plain or git's extended format). Every path it names must stay inside the
repository: no absolute path, no ``..`` component, nothing in a ``.git`` directory; a symlink it creates
must point inside the repository too; a binary blob must stay under a size limit.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from envfarm.errors import PatchError

MAX_BINARY_BYTES = 1024 * 1024
HEADER_PATH = re.compile(r"^(?:---|\+\+\+) (\S.*?)(?:\t.*)?$")
GIT_PATH_KEYS = ("rename from ", "rename to ", "copy from ", "copy to ")
SYMLINK_MODE = "120000"


@dataclass
class FilePatch:
    path: str
    symlink: bool = False
    symlink_target: list[str] = field(default_factory=list)
    binary_bytes: int = 0


@dataclass
class PatchSummary:
    files: list[FilePatch]

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


def check_path(raw: str, where: str) -> str:
    """The repository-relative path of a patch header path; raises PatchError when it escapes."""
    path = raw.strip().strip('"')
    if path == "/dev/null":
        return path
    if path.startswith("/"):
        raise PatchError(f"{where}: absolute path {path!r} in patch")
    if "\\" in path or "\x00" in path:
        raise PatchError(f"{where}: path {path!r} has a backslash or NUL")
    parts = path.split("/")
    if ".." in parts:
        raise PatchError(f"{where}: path {path!r} leaves the repository ('..')")
    if any(part.lower() == ".git" for part in parts):
        raise PatchError(f"{where}: path {path!r} writes into .git")
    return path


def _strip_prefix(path: str) -> str:
    return path[2:] if path[:2] in ("a/", "b/") else path


def check_symlink_target(link: str, target: str, where: str) -> None:
    if target.startswith("/"):
        raise PatchError(f"{where}: symlink {link!r} points outside the repository (absolute {target!r})")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if resolved == ".." or resolved.startswith("../"):
        raise PatchError(f"{where}: symlink {link!r} points outside the repository ({target!r})")
    if ".git" in resolved.split("/"):
        raise PatchError(f"{where}: symlink {link!r} points into .git ({target!r})")


HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def parse_patch(text: str, *, max_binary_bytes: int = MAX_BINARY_BYTES) -> PatchSummary:
    """Check ``text`` and summarise the files it touches; raises PatchError naming the line."""
    if "\x00" in text:
        raise PatchError("patch contains NUL bytes: not a text unified diff")
    state = _State()
    for number, line in enumerate(text.splitlines(), start=1):
        state.feed(line, f"patch line {number}")
    if not state.files:
        raise PatchError("not a unified diff: no 'diff --git' or '---'/'+++' file headers")
    _check_files(state.files, max_binary_bytes)
    return PatchSummary(state.files)


class _State:
    def __init__(self) -> None:
        self.files: list[FilePatch] = []
        self.current: FilePatch | None = None
        self.git_block = False
        self.old = self.new = 0  # lines left in the current hunk

    def feed(self, line: str, where: str) -> None:
        if self.old > 0 or self.new > 0:
            self._hunk_line(line)
        elif line.startswith("diff --git "):
            self.current, self.git_block = _git_header(line, where), True
            self.files.append(self.current)
        elif line.startswith(("--- ", "+++ ")):
            self._file_header(line, where)
        elif line.startswith(GIT_PATH_KEYS):
            check_path(line.split(" ", 2)[2], where)
        elif line.startswith(("new file mode ", "new mode ")) and self.current is not None:
            self.current.symlink = line.endswith(SYMLINK_MODE)
        elif line.startswith("@@"):
            self._hunk_header(line, where)
        elif line.startswith("literal ") and self.current is not None:
            self.current.binary_bytes += int(line.split()[1])

    def _file_header(self, line: str, where: str) -> None:
        match = HEADER_PATH.match(line)
        if not match:
            raise PatchError(f"{where}: malformed file header")
        path = check_path(_strip_prefix(match.group(1)), where)
        if line.startswith("--- ") and not self.git_block:
            self.current = FilePatch(path=path)
            self.files.append(self.current)
        elif line.startswith("+++ ") and self.current is not None and path != "/dev/null":
            self.current.path = path
        if line.startswith("+++ "):
            self.git_block = False  # a following '--- ' starts the next plain file

    def _hunk_header(self, line: str, where: str) -> None:
        match = HUNK.match(line)
        if not match or self.current is None:
            raise PatchError(f"{where}: malformed hunk header or hunk before any file header")
        self.old = int(match.group(1) or 1)
        self.new = int(match.group(2) or 1)

    def _hunk_line(self, line: str) -> None:
        tag = line[:1]
        if tag in (" ", ""):
            self.old, self.new = self.old - 1, self.new - 1
        elif tag == "-":
            self.old -= 1
        elif tag == "+":
            self.new -= 1
            if self.current is not None and self.current.symlink:
                self.current.symlink_target.append(line[1:])


def _git_header(line: str, where: str) -> FilePatch:
    match = re.match(r'^diff --git ("?a/.+?"?) ("?b/.+"?)$', line)
    if not match:
        raise PatchError(f"{where}: malformed 'diff --git' header")
    check_path(_strip_prefix(match.group(1).strip('"')), where)
    return FilePatch(path=check_path(_strip_prefix(match.group(2).strip('"')), where))


def _check_files(files: list[FilePatch], max_binary_bytes: int) -> None:
    for item in files:
        if item.symlink:
            check_symlink_target(item.path, "".join(item.symlink_target), f"patch file {item.path}")
        if item.binary_bytes > max_binary_bytes:
            raise PatchError(
                f"patch file {item.path}: binary blob of {item.binary_bytes} bytes over the limit"
            )
