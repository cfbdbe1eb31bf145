"""Sample repositories built from scripted histories, deterministically (stable commit SHAs).

Each sample lives in ``tasks/samples/<name>/history.yaml``::

    repo: envfarm-samples/calc          # OWNER/NAME the tasks refer to
    author: {name: Ada, email: ada@example.com}
    commits:
      - id: init                         # a label later steps refer to
        branch: main                     # default main; a new branch starts at `from` (a label)
        from: init
        date: "2024-01-02T10:00:00+00:00"
        message: "Initial commit"
        write: {path: "file content"}    # files written (created or replaced)
        delete: [old/path.py]
        executable: [scripts/run.sh]
        merge: feature-branch            # a merge commit: first parent = `branch`, second = this branch
        tag: v0.1.0                       # lightweight tag on the new commit
        author: {name: ..., email: ...}  # overrides the default author

A squash merge is an ordinary commit titled "... (#123)". Dates, names and an isolated git configuration
make the SHAs the same on every machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from envfarm.errors import FileFormatError, RecordError

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "tasks" / "samples"
DEFAULT_AUTHOR = {"name": "envfarm samples", "email": "samples@envfarm.invalid"}


def load_history(name: str, samples_dir: Path = SAMPLES_DIR) -> dict[str, Any]:
    path = samples_dir / name / "history.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FileFormatError(f"{path}: cannot read sample history: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("commits"), list):
        raise RecordError("a sample history needs a `commits` list", source=str(path), field="commits")
    return data


def sample_names(samples_dir: Path = SAMPLES_DIR) -> list[str]:
    return sorted(p.parent.name for p in samples_dir.glob("*/history.yaml"))


def build_sample(name: str, dest: Path, samples_dir: Path = SAMPLES_DIR) -> dict[str, str]:
    """Build sample ``name`` as a git repository at ``dest``; returns {label: commit SHA}."""
    history = load_history(name, samples_dir)
    builder = _Builder(dest, history.get("author") or DEFAULT_AUTHOR, f"{samples_dir / name}/history.yaml")
    builder.init()
    for index, step in enumerate(history["commits"]):
        builder.commit(index, step)
    builder.git("checkout", "--quiet", "main")
    return builder.labels


class _Builder:
    def __init__(self, dest: Path, author: dict[str, str], source: str) -> None:
        self.dest, self.author, self.source = dest, author, source
        self.labels: dict[str, str] = {}

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dest),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LC_ALL": "C",
            "TZ": "UTC",
            **(env or {}),
        }
        done = subprocess.run(
            ["git", "-C", str(self.dest), *args], env=full_env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RecordError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()}", source=self.source)
        return done.stdout.strip()

    def init(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--template=", "-b", "main")

    def commit(self, index: int, step: dict[str, Any]) -> None:
        for key in ("message", "date"):
            if not step.get(key):
                raise RecordError(f"commit needs `{key}`", source=self.source, line=index, field=key)
        self._switch(step)
        if step.get("merge"):
            self.git(
                "merge", "--no-ff", "--no-commit", "--quiet", self._ref(step["merge"]), env=self._env(step)
            )
        self._apply(step)
        self.git("add", "-A")
        self.git(
            "commit", "--quiet", "--allow-empty", "--no-verify", "-m", step["message"], env=self._env(step)
        )
        sha = self.git("rev-parse", "HEAD")
        self.labels[str(step.get("id") or f"c{index}")] = sha
        if step.get("tag"):
            self.git("tag", str(step["tag"]), sha)

    def _switch(self, step: dict[str, Any]) -> None:
        branch = str(step.get("branch") or "main")
        if not self.labels:
            return  # the very first commit goes on main
        exists = self.git("branch", "--list", branch)
        if exists:
            self.git("checkout", "--quiet", branch)
        else:
            self.git("checkout", "--quiet", "-b", branch, self._ref(step.get("from") or "main"))

    def _ref(self, label: str) -> str:
        return self.labels.get(str(label), str(label))

    def _apply(self, step: dict[str, Any]) -> None:
        for rel, content in (step.get("write") or {}).items():
            path = self._path(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(content))
        for rel in step.get("executable") or []:
            self._path(rel).chmod(0o755)
        for rel in step.get("delete") or []:
            self._path(rel).unlink()

    def _path(self, rel: str) -> Path:
        path = (self.dest / rel).resolve()
        if not path.is_relative_to(self.dest.resolve()) or ".git" in Path(rel).parts:
            raise RecordError(f"path {rel!r} leaves the sample repository", source=self.source, field="write")
        return path

    def _env(self, step: dict[str, Any]) -> dict[str, str]:
        who = {**self.author, **(step.get("author") or {})}
        date = str(step["date"])
        return {
            "GIT_AUTHOR_NAME": who["name"],
            "GIT_AUTHOR_EMAIL": who["email"],
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": who["name"],
            "GIT_COMMITTER_EMAIL": who["email"],
            "GIT_COMMITTER_DATE": date,
        }
