"""Finding a Python interpreter of a given X.Y version on this machine (PATH, pyenv, uv, /usr)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envfarm.errors import InterpreterMissing

VERSION_RE = re.compile(r"^(\d+)\.(\d+)")
PROBE = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)"


@dataclass(frozen=True)
class Interpreter:
    executable: Path  # the real binary (not a pyenv shim)
    version: str  # X.Y
    prefix: Path  # what must be visible inside a sandbox for it to run


def candidates(version: str) -> list[str]:
    found = [shutil.which(f"python{version}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += sorted(str(p) for p in pyenv.glob(f"versions/{version}*/bin/python{version}"))
    uv = Path.home() / ".local/share/uv/python"
    found += sorted(str(p) for p in uv.glob(f"cpython-{version}.*/bin/python{version}"))
    found += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    return [c for c in dict.fromkeys(found) if c and os.access(c, os.X_OK)]


@functools.cache
def find_python(version: str) -> Interpreter:
    """The first working ``python{version}``; InterpreterMissing names the version and where we looked."""
    match = VERSION_RE.match(version.strip())
    if not match:
        raise InterpreterMissing(f"python version {version!r} is not of the form X.Y")
    wanted = f"{match.group(1)}.{match.group(2)}"
    for path in candidates(wanted):
        done = subprocess.run([path, "-S", "-I", "-c", PROBE], capture_output=True, text=True, timeout=30)
        lines = done.stdout.split("\n")
        if done.returncode == 0 and len(lines) >= 3 and lines[1] == wanted:
            return Interpreter(Path(lines[0]), wanted, Path(lines[2]))
    raise InterpreterMissing(
        f"python {wanted} is not installed on this machine (looked for python{wanted} on PATH, "
        f"in pyenv and uv): install it, e.g. `pyenv install {wanted}` or `uv python install {wanted}`"
    )
