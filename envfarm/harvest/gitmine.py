"""Mine a local git repository for candidates in one ``git log -p`` pass (no process per commit).

Walks the first-parent chain: a merge commit is a merged pull request diffed against its first parent, a
commit titled "... (#123)" is a squash merge, any other commit is a single fix commit.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from envfarm.errors import FileFormatError, HarvestError
from envfarm.harvest.candidate import Candidate, CandidateKind, Issue
from envfarm.harvest.envinfer import wanted
from envfarm.harvest.licence import LICENCE_FILES, detect_spdx
from envfarm.harvest.links import issue_refs, merge_pr_number, squash_pr_number

log = logging.getLogger(__name__)
_FORMAT = "%x1e%H%x1f%P%x1f%aI%x1f%B%x1f"
_LOG_ARGS = (
    "log",
    "--reverse",
    "--first-parent",
    "--diff-merges=first-parent",
    "-p",
    "--no-color",
    "--no-ext-diff",
)


def git(repo: Path, *args: str, input_text: str | None = None) -> str:
    """Run one git command in ``repo``; a failure is a HarvestError naming the command and repo."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "core.quotepath=off", *args],
        capture_output=True,
        text=True,
        errors="replace",
        input=input_text,
        check=False,
    )
    if proc.returncode != 0:
        raise HarvestError(f"git {' '.join(args[:3])} failed in {repo}: {proc.stderr.strip()[:500]}")
    return proc.stdout


def mine(
    repo: Path,
    name: str,
    *,
    refs: Sequence[str] = ("HEAD",),
    since: str | None = None,
    limit: int | None = None,
    issues: Mapping[int, Issue] | None = None,
) -> Iterator[Candidate]:
    """Every first-parent commit of each ref as a candidate, oldest first (so an original precedes its
    backports); a later ref yields only commits the earlier refs do not hold. Root commits are skipped.
    ``limit`` keeps the newest ``limit`` commits of each ref."""
    licence = repo_licence(repo, refs[0])
    for index, ref in enumerate(refs):
        args = [*_LOG_ARGS, f"--format={_FORMAT}"]
        args += [f"--since={since}"] if since else []
        args += [f"--max-count={limit}"] if limit else []
        args += [ref, *(f"^{earlier}" for earlier in refs[:index]), "--"]
        yield from _stamped(_records(repo, args), name, licence, issues or {})


def _stamped(
    records: Iterator[str], name: str, licence: str | None, issues: Mapping[int, Issue]
) -> Iterator[Candidate]:
    stamp = ""
    for record in records:
        cand = _candidate(record, name, licence, issues)
        if cand is None:
            continue
        cand.env_stamp = stamp or cand.base_commit
        if _touches_env(cand.diff):
            stamp = cand.fix_commit  # the next candidate's base has other environment files
        elif not stamp:
            stamp = cand.env_stamp
        yield cand


def load_issues(path: Path) -> dict[int, Issue]:
    """Issues from a YAML or JSON list (number, title, body, created_at, comments: [[at, body], ...])."""
    try:
        data = yaml.safe_load(path.read_text())
        return {int(item["number"]): Issue.model_validate(item) for item in data or []}
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot read issues: {exc}") from exc


def _touches_env(diff: str) -> bool:
    return any(
        wanted(line.rsplit(" b/", 1)[-1]) for line in diff.splitlines() if line.startswith("diff --git")
    )


class GitFiles:
    """Environment-inference files at a candidate's base, read once per environment stamp."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._cache: dict[str, dict[str, str]] = {}

    def __call__(self, cand: Candidate) -> dict[str, str]:
        key = cand.env_stamp or cand.base_commit
        if key not in self._cache:
            self._cache.clear()  # stamps only move forward: keep one
            self._cache[key] = env_files(self.repo, cand.base_commit)
        return self._cache[key]


def _records(repo: Path, args: list[str]) -> Iterator[str]:
    cmd = ["git", "-C", str(repo), "-c", "core.quotepath=off", *args]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        buffer = b""
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            buffer += chunk
            *done, buffer = buffer.split(b"\x1e")
            yield from (r.decode("utf-8", "replace") for r in done if r)
        if buffer:
            yield buffer.decode("utf-8", "replace")
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise HarvestError(f"git log failed in {repo}: {err.strip()[:500]}")


def _candidate(record: str, name: str, licence: str | None, issues: Mapping[int, Issue]) -> Candidate | None:
    sha, parents, date, message, diff = record.split("\x1f", 4)
    if not parents:
        return None
    subject, _, body = message.strip().partition("\n")
    pr, kind = _kind(subject, len(parents.split()))
    refs = issue_refs(message, name, exclude=(pr,) if pr is not None else ())
    title = body.strip().partition("\n")[0] if kind == "merge" and pr is not None else subject
    body = body.strip().partition("\n")[2] if kind == "merge" and pr is not None else body
    return Candidate(
        repo=name,
        key=f"pr-{pr}" if pr is not None else f"commit-{sha[:12]}",
        kind=kind,
        base_commit=parents.split()[0],
        fix_commit=sha,
        pr_number=pr,
        title=title or subject,
        body=body.strip(),
        issues=[issues[n] for n in refs if n in issues],
        issue_numbers=refs,
        created_at=utc(date),
        diff=diff.lstrip("\n"),
        licence=licence,
    )


def _kind(subject: str, n_parents: int) -> tuple[int | None, CandidateKind]:
    if n_parents > 1:
        return merge_pr_number(subject), "merge"
    pr = squash_pr_number(subject)
    return pr, "squash" if pr is not None else "commit"


def utc(date: str) -> str:
    """An ISO 8601 date with offset as UTC with a Z, so dates compare as text."""
    try:
        return datetime.fromisoformat(date).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return date


def repo_licence(repo: Path, ref: str) -> str | None:
    """The SPDX id of the first licence file at ``ref``, or None."""
    listing = set(git(repo, "ls-tree", "--name-only", ref).split())
    for path in LICENCE_FILES:
        if path in listing:
            return detect_spdx(git(repo, "show", f"{ref}:{path}"))
    return None


def env_files(repo: Path, commit: str) -> dict[str, str]:
    """The files environment inference reads, as they are at ``commit`` (one ls-tree, one cat-file)."""
    paths = [p for p in git(repo, "ls-tree", "-r", "--name-only", commit).splitlines() if wanted(p)]
    if not paths:
        return {}
    query = "".join(f"{commit}:{p}\n" for p in paths).encode()
    proc = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"], input=query, capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise HarvestError(f"git cat-file failed in {repo}: {proc.stderr.decode(errors='replace')[:500]}")
    return dict(zip(paths, _batch_bodies(proc.stdout), strict=False))


def _batch_bodies(out: bytes) -> Iterator[str]:
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        parts = out[pos:end].split()
        pos = end + 1
        if len(parts) < 3 or parts[1] == b"missing":
            yield ""
            continue
        size = int(parts[2])
        yield out[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1
