"""A harvest candidate: one merged change that may become a task (pure model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CandidateKind = Literal["merge", "squash", "commit", "github_pr"]
StatementFrom = Literal["issue", "pr", "commit"]


class Issue(BaseModel):
    """An issue a fix links to: its text and the comments made before the fix (the hints)."""

    model_config = ConfigDict(extra="forbid")

    number: int
    title: str
    body: str = ""
    created_at: str = ""
    comments: list[tuple[str, str]] = Field(default_factory=list)  # (created_at, body)

    def statement(self) -> str:
        return f"{self.title.strip()}\n\n{self.body.strip()}".strip() + "\n"

    def hints_before(self, when: str) -> str:
        """Comment bodies made before ``when`` (ISO 8601 in UTC sorts as text)."""
        return "\n\n".join(body.strip() for at, body in self.comments if not when or at < when)


class Candidate(BaseModel):
    """One merged change: a merge commit, a squash merge, a single commit or a GitHub pull request."""

    model_config = ConfigDict(extra="forbid")

    repo: str
    key: str  # unique in its repo: "pr-123" or "commit-<sha12>"
    kind: CandidateKind
    base_commit: str
    fix_commit: str = ""
    merged: bool = True
    pr_number: int | None = None
    title: str = ""
    body: str = ""
    issues: list[Issue] = Field(default_factory=list)
    issue_numbers: list[int] = Field(default_factory=list)
    created_at: str = ""
    diff: str = ""
    licence: str | None = None
    url: str = ""
    env_stamp: str = ""  # equal stamps mean equal environment files at base (git mining sets it)

    @property
    def instance_id(self) -> str:
        owner, name = self.repo.split("/", 1)
        suffix = str(self.pr_number) if self.pr_number is not None else self.fix_commit[:12]
        return f"{owner}__{name}-{suffix}"

    def statement(self) -> tuple[str, StatementFrom]:
        """The problem statement: the linked issues' text, else the PR or commit description."""
        if self.issues:
            return "\n".join(issue.statement() for issue in self.issues), "issue"
        origin: StatementFrom = "commit" if self.kind in ("commit", "squash") else "pr"
        return f"{self.title.strip()}\n\n{description(self.body)}".strip() + "\n", origin

    def hints(self) -> str:
        return "\n\n".join(h for h in (i.hints_before(self.created_at) for i in self.issues) if h)


_TRAILERS = ("signed-off-by:", "co-authored-by:", "reviewed-by:", "cc:")


def description(body: str) -> str:
    """A message body without git trailers (Signed-off-by, Co-authored-by ...)."""
    lines = [ln for ln in body.strip().splitlines() if not ln.strip().lower().startswith(_TRAILERS)]
    return "\n".join(lines).strip()
