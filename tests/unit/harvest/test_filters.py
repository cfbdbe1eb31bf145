from __future__ import annotations

from envfarm.harvest.build import build_task
from envfarm.harvest.candidate import Candidate, Issue
from envfarm.harvest.filters import Decontamination, Deduper, FilterConfig, screen
from envfarm.harvest.ledger import PIPELINE_VERSION, LedgerEntry, Reason, Stage, funnel, reached
from envfarm.harvest.patchsplit import split_patch
from envfarm.models.task import InstallConfig


def fd(path: str, lines: int = 1, text: str = "x") -> str:
    body = "".join(f"+{text}{i}\n" for i in range(lines))
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,0 +1,{lines} @@\n{body}"


GOOD_DIFF = fd("pkg/mod.py", 3) + fd("tests/test_mod.py", 4)
LONG_BODY = "The parser crashes on empty input because it indexes the first token."


def cand(**kw: object) -> Candidate:
    base = {
        "repo": "o/r", "key": "pr-1", "kind": "merge", "base_commit": "a" * 40, "fix_commit": "b" * 40,
        "pr_number": 1, "title": "Fix parser", "body": LONG_BODY, "diff": GOOD_DIFF, "licence": "MIT",
    }  # fmt: skip
    base.update(kw)
    return Candidate.model_validate(base)


def check(c: Candidate, cfg: FilterConfig | None = None, **kw: object) -> tuple[Reason | None, str, str]:
    dedupe = kw.get("dedupe") or Deduper()
    decon = kw.get("decon") or Decontamination()
    return screen(c, split_patch(c.diff), cfg or FilterConfig(), dedupe, decon)  # type: ignore[arg-type]


def test_good_candidate_passes_with_hash() -> None:
    reason, _, digest = check(cand())
    assert reason is None and len(digest) == 64


def test_each_filter_has_its_reason() -> None:
    assert check(cand(merged=False))[0] is Reason.not_merged
    assert check(cand(licence="GPL-3.0"))[0] is Reason.licence
    assert check(cand(licence=None))[0] is Reason.licence
    assert check(cand(licence=None), FilterConfig(allow_unknown_licence=True))[0] is None
    assert check(cand(diff=fd("pkg/mod.py")))[0] is Reason.no_test_change
    assert check(cand(diff=fd("tests/test_x.py")))[0] is Reason.no_code_change
    assert check(cand(diff=fd("app.js") + fd("tests/test_x.py")))[0] is Reason.not_language
    assert check(cand(diff=fd("pkg/a.py", 700) + fd("tests/test_x.py")))[0] is Reason.too_large
    many = "".join(fd(f"pkg/m{i}.py") for i in range(20)) + fd("tests/test_x.py")
    assert check(cand(diff=many))[0] is Reason.too_large
    assert check(cand(body="typo"))[0] is Reason.no_statement
    assert check(cand(), FilterConfig(require_issue=True))[0] is Reason.no_statement


def test_statement_prefers_the_issue_and_marks_the_origin() -> None:
    comments = [("2021-01-01T00:00:00Z", "I see it too"), ("2021-05-01T00:00:00Z", "fixed!")]
    issue = Issue(number=7, title="Crash on empty input", body="Steps: call parse('') and it raises.",
                  comments=comments)  # fmt: skip
    with_issue = cand(body="", issues=[issue], created_at="2021-03-01T00:00:00Z")
    assert check(with_issue)[0] is None
    assert with_issue.statement() == (
        "Crash on empty input\n\nSteps: call parse('') and it raises.\n",
        "issue",
    )
    assert with_issue.hints() == "I see it too"
    assert cand().statement()[1] == "pr"
    assert (
        cand(kind="commit", body=LONG_BODY + "\n\nSigned-off-by: A <a@b>").statement()[0].count("Signed") == 0
    )


def test_duplicates_and_decontamination() -> None:
    dedupe = Deduper()
    assert check(cand(), dedupe=dedupe)[0] is None
    backport = cand(key="pr-9", pr_number=9)
    reason, detail, _ = check(backport, dedupe=dedupe)
    assert reason is Reason.duplicate and "o/r:pr-1" in detail
    decon = Decontamination()
    decon.add("o__r-1", "o/r", "")
    assert check(cand(), decon=decon)[0] is Reason.decontaminated
    by_patch = Decontamination()
    by_patch.add("x__y-5", "x/y", split_patch(GOOD_DIFF).gold)
    assert check(cand(key="pr-2", pr_number=2), decon=by_patch)[0] is Reason.decontaminated


def test_build_task_fills_the_envfarm_block() -> None:
    c = cand(created_at="2021-03-01T00:00:00Z")
    task = build_task(c, split_patch(c.diff), InstallConfig(python="3.9"), ingested_from="git", now="t")
    assert task.instance_id == "o__r-1" and task.version == "3.9"
    assert task.test_patch.startswith("diff --git a/tests/test_mod.py")
    assert task.envfarm.source.kind == "harvest" and task.envfarm.source.statement_from == "pr"
    assert task.envfarm.provenance.pipeline_version == PIPELINE_VERSION
    assert task.envfarm.provenance.licence == "MIT"
    assert task.envfarm.quality.files_changed == 2 and task.envfarm.quality.patch_lines == 3


def test_funnel_counts() -> None:
    rows = [
        LedgerEntry(repo="o/r", key="a", stage=Stage.mined, reason=Reason.no_test_change),
        LedgerEntry(repo="o/r", key="b", stage=Stage.mined, reason=Reason.no_test_change),
        LedgerEntry(repo="o/r", key="c", stage=Stage.validated, reason=Reason.flaky),
        LedgerEntry(repo="o/r", key="d", stage=Stage.accepted, reason=Reason.ok),
    ]
    assert list(funnel(rows).items()) == [
        ((Stage.mined, Reason.no_test_change), 2),
        ((Stage.validated, Reason.flaky), 1),
        ((Stage.accepted, Reason.ok), 1),
    ]
    widths = reached(rows)
    assert widths[Stage.mined] == 4 and widths[Stage.validated] == 2 and widths[Stage.accepted] == 1
