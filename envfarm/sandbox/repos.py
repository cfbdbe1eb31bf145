"""Repository cache: bare mirrors under ``Settings.repos_dir`` and per-base-commit snapshots.

A mirror is registered from a local clone (``envfarm repos add OWNER/NAME PATH``) or cloned from GitHub
when the caller says the machine is online. A snapshot is a small bare repository holding only the history
up to one base commit (and the tags on it): workspaces borrow its objects (git alternates), so nothing
after the base is even present as a loose object for an agent to mine.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from envfarm.errors import EnvBuildError, InputError, RepoNotCached
from envfarm.sandbox.gitutil import git

log = logging.getLogger(__name__)
REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
SNAPSHOT_BRANCH = "main"
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class CachedRepo:
    repo: str
    path: Path
    origin: str


class RepoCache:
    def __init__(self, repos_dir: Path) -> None:
        self.root = repos_dir

    def mirror_path(self, repo: str) -> Path:
        if not REPO_RE.match(repo) or ".." in repo:
            raise InputError(f"repository name {repo!r} is not OWNER/NAME")
        owner, name = repo.split("/")
        return self.root / "mirrors" / owner / f"{name}.git"

    def add(self, repo: str, source: Path | str) -> CachedRepo:
        """Register (or refresh) the mirror of ``repo`` from a local clone or URL."""
        mirror = self.mirror_path(repo)
        src = str(Path(source).resolve()) if Path(source).exists() else str(source)
        with self._lock(mirror):
            if (mirror / "HEAD").exists():
                git(mirror, "remote", "set-url", "origin", src)
                git(mirror, "fetch", "--prune", "--quiet", "origin")
            else:
                tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=mirror.parent))
                git(tmp, "clone", "--mirror", "--quiet", src, str(tmp / "m.git"))
                (tmp / "m.git").rename(mirror)
                shutil.rmtree(tmp)
            git(mirror, "config", "uploadpack.allowAnySHA1InWant", "true")
        log.info("cached %s from %s at %s", repo, src, mirror)
        return CachedRepo(repo, mirror, src)

    def list(self) -> list[CachedRepo]:
        found = []
        for head in sorted((self.root / "mirrors").glob("*/*.git/HEAD")):
            mirror = head.parent
            repo = f"{mirror.parent.name}/{mirror.name.removesuffix('.git')}"
            origin = git(mirror, "config", "--get", "remote.origin.url", check=False).strip()
            found.append(CachedRepo(repo, mirror, origin))
        return found

    def ensure(self, repo: str, *, online: bool = False) -> Path:
        """The mirror of ``repo``; cloned from GitHub only when ``online``, else RepoNotCached."""
        mirror = self.mirror_path(repo)
        if (mirror / "HEAD").exists():
            return mirror
        fix = f"envfarm repos add {repo} PATH"
        if not online:
            raise RepoNotCached(
                f"repository {repo} is not cached under {self.root}; run `{fix}` with a local clone"
            )
        try:
            self.add(repo, f"https://github.com/{repo}.git")
        except EnvBuildError as exc:
            raise RepoNotCached(
                f"repository {repo} is not cached and cloning it failed; run `{fix}`: {exc}"
            ) from exc
        return mirror

    def snapshot(self, repo: str, base_commit: str, *, online: bool = False) -> tuple[Path, str]:
        """(bare snapshot path, full base SHA): history up to ``base_commit`` only, tags on it kept."""
        mirror = self.mirror_path(repo)
        snap_dir = self.root / "snapshots" / mirror.parent.name / mirror.name.removesuffix(".git")
        if FULL_SHA.match(base_commit) and (snap_dir / f"{base_commit}.git" / "envfarm-complete").exists():
            return snap_dir / f"{base_commit}.git", base_commit  # the warm path: no git process
        mirror = self.ensure(repo, online=online)
        sha = self.resolve(mirror, repo, base_commit)
        snap = snap_dir / f"{sha}.git"
        if (snap / "envfarm-complete").exists():
            return snap, sha
        with self._lock(snap):
            if not (snap / "envfarm-complete").exists():
                self._build_snapshot(mirror, snap, sha)
        return snap, sha

    def resolve(self, mirror: Path, repo: str, base_commit: str) -> str:
        out = git(
            mirror, "rev-parse", "--verify", "--quiet", f"{base_commit}^{{commit}}", check=False
        ).strip()
        if not out:
            fix = f"envfarm repos add {repo} PATH"
            raise RepoNotCached(
                f"commit {base_commit} of {repo} is not in the cache; refresh it with `{fix}`"
            )
        return out

    def _build_snapshot(self, mirror: Path, snap: Path, sha: str) -> None:
        shutil.rmtree(snap, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=snap.parent)) / "s.git"
        git(tmp.parent, "init", "--quiet", "--bare", "--template=", str(tmp))
        refspecs = [f"{sha}:refs/heads/{SNAPSHOT_BRANCH}"]
        tags = git(mirror, "tag", "--merged", sha).split()
        refspecs += [f"refs/tags/{tag}:refs/tags/{tag}" for tag in tags]
        git(tmp, "fetch", "--quiet", "--no-tags", str(mirror), *refspecs)
        git(tmp, "symbolic-ref", "HEAD", f"refs/heads/{SNAPSHOT_BRANCH}")
        git(tmp, "pack-refs", "--all")
        newer = future_commits(tmp, sha, all_objects=True)
        if newer:
            raise EnvBuildError(f"snapshot of {mirror} at {sha} holds {newer} commits newer than the base")
        (tmp / "envfarm-complete").write_text(sha + "\n")
        tmp.rename(snap)
        shutil.rmtree(tmp.parent)

    def _lock(self, path: Path) -> FileLock:
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path) + ".lock")


def future_commits(repo: Path, base_sha: str, *, all_objects: bool = False) -> int:
    """Commits in ``repo`` that are not ancestors of the base (refs, reflogs; every object if asked)."""
    reachable = git(repo, "rev-list", "--all", "--reflog", "--not", base_sha).split()
    if not all_objects:
        return len(reachable)
    ancestors = set(git(repo, "rev-list", base_sha).split())
    check = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectname)")
    commits = {line.split()[1] for line in check.splitlines() if line.startswith("commit ")}
    return len(commits - ancestors) + len(reachable)
