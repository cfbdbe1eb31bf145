"""Workspaces: one checkout per environment, made cheaply from a repository snapshot, with sanitised git.

A workspace borrows every object from its snapshot through ``objects/info/alternates`` (nothing is
copied), takes the snapshot's refs (the base branch and the tags on the base), and has no remote and no
reflog. :func:`assert_sanitised` checks that nothing newer than the base is reachable, because agents mine
future history for the answer when it is there. :func:`sanitise` brings any other clone to that state.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from envfarm.errors import EnvBuildError
from envfarm.sandbox.gitutil import git
from envfarm.sandbox.repos import SNAPSHOT_BRANCH, future_commits

CONFIG = (
    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
    "\tlogallrefupdates = false\n[gc]\n\tauto = 0\n"
)


def create_workspace(snapshot: Path, base_sha: str, dest: Path) -> Path:
    """A fresh checkout of ``base_sha`` at ``dest`` whose objects live in ``snapshot`` (read-only)."""
    init_workspace(snapshot, dest)
    checkout_workspace(dest, base_sha)
    return dest


def init_workspace(snapshot: Path, dest: Path) -> None:
    """The empty repository (no git process): enough for a sandbox to bind while the checkout runs."""
    if dest.exists():
        raise EnvBuildError(f"workspace {dest} already exists")
    dot_git = dest / ".git"
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        (dot_git / sub).mkdir(parents=True)
    (dot_git / "HEAD").write_text(f"ref: refs/heads/{SNAPSHOT_BRANCH}\n")
    (dot_git / "config").write_text(CONFIG)
    (dot_git / "objects" / "info" / "alternates").write_text(f"{snapshot / 'objects'}\n")
    shutil.copyfile(snapshot / "packed-refs", dot_git / "packed-refs")


def checkout_workspace(dest: Path, base_sha: str) -> None:
    git(dest, "reset", "--quiet", "--hard", base_sha)
    (dest / ".git" / "ORIG_HEAD").unlink(missing_ok=True)
    assert_sanitised(dest, base_sha)


def assert_sanitised(workspace: Path, base_sha: str) -> None:
    """Raise unless: no commit after the base is reachable, no remote, no reflog."""
    newer = future_commits(workspace, base_sha)
    config = (workspace / ".git" / "config").read_text()
    remotes = [line.strip() for line in config.splitlines() if line.strip().startswith("[remote ")]
    logs = workspace / ".git" / "logs"
    if newer or remotes or logs.exists():
        raise EnvBuildError(
            f"workspace {workspace} is not sanitised: {newer} commits newer than {base_sha[:12]}, "
            f"remotes {remotes}, reflog {'present' if logs.exists() else 'absent'}"
        )


def sanitise(workspace: Path, base_sha: str) -> None:
    """Strip any clone to the base: drop remotes, refs not merged into the base, reflogs, stray objects."""
    for remote in git(workspace, "remote").split():
        git(workspace, "remote", "remove", remote)
    git(workspace, "checkout", "--quiet", "--detach", base_sha)
    refs = git(workspace, "for-each-ref", "--format=%(refname)", "--no-merged", base_sha).split()
    for ref in refs:
        git(workspace, "update-ref", "-d", ref)
    git(workspace, "checkout", "--quiet", "-B", SNAPSHOT_BRANCH, base_sha)
    git(workspace, "stash", "clear")
    shutil.rmtree(workspace / ".git" / "logs", ignore_errors=True)
    git(workspace, "config", "core.logAllRefUpdates", "false")
    git(workspace, "gc", "--quiet", "--prune=now")
    assert_sanitised(workspace, base_sha)


def remove_workspace(workspace: Path) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
