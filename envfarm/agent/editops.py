"""What the file editor and bash tools show the model, and the editor's text edits (pure: no I/O)."""

from __future__ import annotations

import posixpath

SNIPPET_LINES = 4


class EditRefused(Exception):
    """An edit that cannot be made; the message goes back to the model."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping its head and tail and saying what was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 0)
    head, tail = text[: keep // 2], text[len(text) - keep // 2 :]
    return f"{head}\n[... {len(text) - 2 * (keep // 2)} characters cut ...]\n{tail}"


def exec_observation(
    exit_code: int, stdout: str, stderr: str, *, timed_out: bool, timeout_s: float, limit: int
) -> str:
    parts = [stdout.rstrip("\n")] if stdout else []
    if stderr:
        parts.append(f"[stderr]\n{stderr.rstrip()}")
    if timed_out:
        parts.append(f"[the command ran past {timeout_s:g}s and was killed]")
    else:
        parts.append(f"[exit code {exit_code}]")
    return clip("\n".join(parts), limit)


def env_path(path: str, workdir: str) -> str:
    """A path the runtime takes: relative to the workspace when it is inside ``workdir``."""
    if not posixpath.isabs(path):
        return posixpath.normpath(path)
    root = workdir.rstrip("/")
    if path == root:
        return "."
    if path.startswith(root + "/"):
        return posixpath.normpath(path[len(root) + 1 :])
    return posixpath.normpath(path)


def numbered(text: str, view_range: list[int] | None = None) -> str:
    """``cat -n`` of ``text`` (or of the 1-based, inclusive lines ``view_range``; -1 = to the end)."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    first, last = 1, len(lines)
    if view_range is not None:
        if len(view_range) != 2:
            raise EditRefused("view_range must be two integers: [first_line, last_line]")
        first, last = view_range[0], (len(lines) if view_range[1] == -1 else view_range[1])
        if not 1 <= first <= max(len(lines), 1) or last < first:
            raise EditRefused(f"view_range {view_range} is outside the file's {len(lines)} lines")
    width = len(str(last))
    return "\n".join(f"{n:>{width}}\t{lines[n - 1]}" for n in range(first, min(last, len(lines)) + 1))


def str_replace(text: str, old: str, new: str) -> tuple[str, int]:
    """``text`` with the single occurrence of ``old`` replaced; returns it and the edit's first line."""
    if not old:
        raise EditRefused("old_str is empty; give the exact text to replace")
    count = text.count(old)
    if count == 0:
        raise EditRefused("old_str was not found in the file (it must match exactly, whitespace included)")
    if count > 1:
        lines = _lines_of(text, old)
        raise EditRefused(f"old_str occurs {count} times (lines {lines}); make it unique")
    at = text.index(old)
    return text[:at] + new + text[at + len(old) :], text.count("\n", 0, at) + 1


def insert(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    trailing = text.endswith("\n")
    if trailing:
        lines.pop()
    if not 0 <= line <= len(lines):
        raise EditRefused(f"insert_line {line} is outside [0, {len(lines)}]")
    added = new.split("\n")
    if new.endswith("\n"):
        added.pop()
    joined = "\n".join(lines[:line] + added + lines[line:])
    return joined + "\n" if trailing or not lines else joined


def snippet(text: str, line: int, span: int) -> str:
    """Numbered lines around an edit at ``line`` (1-based) touching ``span`` lines."""
    total = text.count("\n") + 1
    first = max(1, line - SNIPPET_LINES)
    last = min(total, line + span + SNIPPET_LINES)
    return numbered(text, [first, last]) if text else ""


def _lines_of(text: str, old: str) -> list[int]:
    found, start = [], 0
    while (at := text.find(old, start)) != -1:
        found.append(text.count("\n", 0, at) + 1)
        start = at + 1
    return found[:10]
