"""Applying a checked patch to a workspace: ``git apply``, then ``git apply --3way``, then ``patch --fuzz``.

Each method is dry-run first, so a failed method leaves the workspace untouched. Before anything runs, the
patch is validated (:mod:`envfarm.sandbox.patchcheck`) and every path it touches is checked on disk: no
parent directory may be a symlink, so no method can write through a link to outside the workspace.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envfarm.errors import PatchError
from envfarm.sandbox.gitutil import QUIET, git_env
from envfarm.sandbox.patchcheck import PatchSummary, parse_patch

log = logging.getLogger(__name__)
METHODS: list[tuple[str, list[str], list[str]]] = [
    ("git apply", ["git", *QUIET, "apply", "--check"], ["git", *QUIET, "apply"]),
    ("git apply --3way", ["git", *QUIET, "apply", "--3way", "--check"], ["git", *QUIET, "apply", "--3way"]),
    (
        "patch --fuzz",
        ["patch", "-p1", "--batch", "--forward", "--fuzz=3", "--dry-run", "--no-backup-if-mismatch"],
        ["patch", "-p1", "--batch", "--forward", "--fuzz=3", "--no-backup-if-mismatch"],
    ),
]


@dataclass(frozen=True)
class ApplyResult:
    method: str
    files: list[str]


def check_on_disk(workspace: Path, summary: PatchSummary) -> None:
    """Refuse a patch whose paths pass through a symlink in the workspace."""
    root = workspace.resolve()
    for rel in summary.paths:
        if rel == "/dev/null":
            continue
        parent = root
        for part in Path(rel).parts[:-1]:
            parent = parent / part
            if parent.is_symlink():
                raise PatchError(f"patch path {rel!r} passes through the symlink {parent.relative_to(root)}")
        target = root / rel
        if target.is_symlink() and not target.resolve().is_relative_to(root):
            raise PatchError(f"patch path {rel!r} is a symlink pointing outside the workspace")


def apply_patch(workspace: Path, text: str) -> ApplyResult:
    """Apply ``text`` to ``workspace``: which method worked, or PatchError with each method's error."""
    if not text.strip():
        return ApplyResult(method="empty", files=[])
    summary = parse_patch(text)
    check_on_disk(workspace, summary)
    data = text if text.endswith("\n") else text + "\n"
    errors: list[str] = []
    with tempfile.NamedTemporaryFile("w", suffix=".patch") as handle:
        handle.write(data)
        handle.flush()
        for name, dry, real in METHODS:
            error = _try(workspace, dry, real, handle.name, data)
            if error is None:
                log.info("patch applied to %s with %s", workspace, name)
                return ApplyResult(method=name, files=summary.paths)
            errors.append(f"{name}: {error}")
    raise PatchError(f"patch does not apply to {workspace}:\n" + "\n".join(errors))


def _try(workspace: Path, dry: list[str], real: list[str], patch_file: str, data: str) -> str | None:
    for argv in (dry, real):
        uses_stdin = argv[0] == "patch"
        done = subprocess.run(
            argv if uses_stdin else [*argv, patch_file],
            cwd=workspace,
            env=git_env(),
            input=data if uses_stdin else None,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return (done.stderr or done.stdout).strip()[-500:]
    return None
