"""Which files a unified diff touches, and which lines it adds or removes (pure).

This is a reader for grading, not an applier: safe application (path escapes, symlinks, fuzz) is the
sandbox's job. It follows hunk lengths, so a removed line that reads ``--- x`` is never taken for a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


@dataclass
class FileChange:
    old_path: str = ""  # "" for a new file
    new_path: str = ""  # "" for a deleted file
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    binary: bool = False
    symlink: bool = False

    @property
    def paths(self) -> list[str]:
        return sorted({p for p in (self.old_path, self.new_path) if p})

    @property
    def changed_lines(self) -> list[str]:
        return self.added + self.removed


def unquote(path: str) -> str:
    """Undo git's C-style quoting of a path (``"a/caf\\303\\251.py"``)."""
    if not (len(path) >= 2 and path[0] == '"' and path[-1] == '"'):
        return path
    body, out, i = path[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        octal = body[i + 1 : i + 4]
        if char == "\\" and len(octal) == 3 and octal.isdigit():
            out.append(int(octal, 8))
            i += 4
        elif char == "\\" and i + 1 < len(body):
            out += ESCAPES.get(body[i + 1], body[i + 1]).encode()
            i += 2
        else:
            out += char.encode()
            i += 1
    return out.decode("utf-8", "replace")


def strip_prefix(path: str) -> str:
    path = unquote(path.split("\t")[0].rstrip())
    if path == "/dev/null":
        return ""
    return path[2:] if path[:2] in ("a/", "b/") else path


def git_header_paths(line: str) -> tuple[str, str]:
    body = line[len("diff --git ") :]
    if body.startswith('"'):
        end = body.index('"', 1) + 1 if '"' in body[1:] else len(body)
        return strip_prefix(body[:end]), strip_prefix(body[end:].strip())
    half = (len(body) - 1) // 2
    if body[half] == " " and body[:half][2:] == body[half + 1 :][2:]:
        return strip_prefix(body[:half]), strip_prefix(body[half + 1 :])
    old, _, new = body.partition(" b/")
    return strip_prefix(old), strip_prefix("b/" + new)


def apply_meta(change: FileChange, line: str) -> None:
    """git's extended header lines."""
    if line.startswith("new file mode"):
        change.old_path = ""
    elif line.startswith("deleted file mode"):
        change.new_path = ""
    elif line.startswith(("rename from ", "copy from ")):
        change.old_path = unquote(line.split(" ", 2)[2])
    elif line.startswith(("rename to ", "copy to ")):
        change.new_path = unquote(line.split(" ", 2)[2])
    elif line.startswith(("Binary files ", "GIT binary patch")):
        change.binary = True
    if line.endswith(" 120000") and "mode" in line:
        change.symlink = True


def read_hunk(lines: list[str], i: int, change: FileChange) -> int:
    """Consume one hunk starting at ``lines[i]`` (its ``@@`` line); return the index after it."""
    match = HUNK.match(lines[i])
    old_left = int(match.group(1) or 1) if match else 0
    new_left = int(match.group(2) or 1) if match else 0
    i += 1
    while i < len(lines) and (old_left > 0 or new_left > 0):
        line = lines[i]
        tag, text = line[:1], line[1:]
        if tag == "+":
            change.added.append(text)
            new_left -= 1
        elif tag == "-":
            change.removed.append(text)
            old_left -= 1
        elif tag in (" ", ""):
            old_left, new_left = old_left - 1, new_left - 1
        elif tag != "\\":
            break
        i += 1
    return i


def parse_diff(text: str) -> list[FileChange]:
    """Every file a unified (or git) diff touches, in order."""
    changes: list[FileChange] = []
    lines, i = text.split("\n"), 0
    current: FileChange | None = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            old, new = git_header_paths(line)
            current = FileChange(old_path=old, new_path=new)
            changes.append(current)
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = strip_prefix(line[4:]), strip_prefix(lines[i + 1][4:])
            if current is None or (current.added or current.removed):
                current = FileChange()
                changes.append(current)
            current.old_path, current.new_path = old, new
            i += 1
        elif line.startswith("@@") and current is not None:
            i = read_hunk(lines, i, current)
            continue
        elif current is not None:
            apply_meta(current, line)
        i += 1
    return changes


def touched_paths(text: str) -> list[str]:
    """Sorted repo-relative paths a diff touches (old and new names of renames both count)."""
    return sorted({p for change in parse_diff(text) for p in change.paths})
