"""Running git with a clean, predictable configuration (no user or system config, no prompts)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envfarm.errors import EnvBuildError

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "true",
    "LC_ALL": "C",
}
QUIET = ["-c", "core.logAllRefUpdates=false", "-c", "advice.detachedHead=false", "-c", "safe.directory=*"]


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, **(extra or {})}


def git(
    cwd: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> str:
    """Run ``git -C cwd ARGS``; a failure raises EnvBuildError with git's own message."""
    done = subprocess.run(
        ["git", *QUIET, "-C", str(cwd), *args], env=git_env(env), capture_output=True, input=input
    )
    if check and done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise EnvBuildError(f"git {' '.join(args[:3])} in {cwd} failed: {err}", log=err)
    return done.stdout.decode(errors="replace")


def git_ok(cwd: Path | str, *args: str) -> bool:
    done = subprocess.run(["git", *QUIET, "-C", str(cwd), *args], env=git_env(), capture_output=True)
    return done.returncode == 0
