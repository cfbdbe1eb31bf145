"""Candidate filters (pure): each returns the reason a candidate is dropped, or None to keep it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from envfarm.harvest.candidate import Candidate
from envfarm.harvest.languages import PathRules, language
from envfarm.harvest.ledger import Reason
from envfarm.harvest.licence import PERMISSIVE, allowed
from envfarm.harvest.patchsplit import PatchSplit
from envfarm.store.keys import patch_fingerprint


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str = "python"
    rules: PathRules | None = None  # None: the language's default rules
    licence_allow: frozenset[str] = PERMISSIVE
    allow_unknown_licence: bool = False
    max_files: int = 15
    max_gold_lines: int = 600
    max_test_lines: int = 1500
    min_statement_chars: int = 40
    require_issue: bool = False

    def path_rules(self) -> PathRules:
        return self.rules or language(self.language).rules


@dataclass
class Decontamination:
    """Known benchmark instances that must never become training tasks.

    Matched by instance id, by (repo, PR number) and by normalised gold-patch hash."""

    instance_ids: set[str] = field(default_factory=set)
    pull_requests: set[tuple[str, int]] = field(default_factory=set)
    patch_hashes: set[str] = field(default_factory=set)

    def add(self, instance_id: str, repo: str, patch: str) -> None:
        self.instance_ids.add(instance_id)
        number = instance_id.rsplit("-", 1)[-1]
        if number.isdigit():
            self.pull_requests.add((repo.lower(), int(number)))
        if patch:
            self.patch_hashes.add(gold_fingerprint(patch))

    def hit(self, cand: Candidate, gold_hash: str) -> bool:
        pr = (cand.repo.lower(), cand.pr_number) if cand.pr_number is not None else None
        return (
            cand.instance_id in self.instance_ids
            or pr in self.pull_requests
            or gold_hash in self.patch_hashes
        )


@dataclass
class Deduper:
    """Remembers the normalised hash of every gold patch kept so far.

    A second candidate with the same hash (a backport, a cherry-pick) is a duplicate."""

    seen: dict[str, str] = field(default_factory=dict)  # hash -> key of the first candidate

    def first_of(self, gold_hash: str, key: str) -> str | None:
        """The key that already holds this hash, or None after recording ``key`` as its holder."""
        holder = self.seen.setdefault(gold_hash, key)
        return None if holder == key else holder


def gold_fingerprint(patch: str) -> str:
    """The task store's normalised patch fingerprint (blind to line numbers and context), "" when empty.

    One function serves both: a backport the harvester calls a duplicate is one the store refuses too."""
    return patch_fingerprint(patch) or ""


Check = Callable[[Candidate, PatchSplit, FilterConfig], Reason | None]


def _merged(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    return None if c.merged else Reason.not_merged


def _licence(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    if c.licence is None and cfg.allow_unknown_licence:
        return None
    return None if allowed(c.licence, cfg.licence_allow) else Reason.licence


def _language(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    lang = language(cfg.language)
    return None if any(lang.is_source(f.path) for f in s.gold_files) else Reason.not_language


def _tests_and_code(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    if not s.test_files:
        return Reason.no_test_change
    return None if s.gold_files else Reason.no_code_change


def _binary(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    return Reason.binary if any(f.binary for f in s.gold_files + s.test_files) else None


def _size(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    files = len(s.gold_files) + len(s.test_files)
    big = files > cfg.max_files or s.gold_lines > cfg.max_gold_lines or s.test_lines > cfg.max_test_lines
    return Reason.too_large if big else None


def _statement(c: Candidate, s: PatchSplit, cfg: FilterConfig) -> Reason | None:
    if cfg.require_issue and not c.issues:
        return Reason.no_statement
    text, origin = c.statement()
    body = text if origin == "issue" else text.split("\n", 1)[-1]
    return None if len(body.strip()) >= cfg.min_statement_chars else Reason.no_statement


CHECKS: tuple[Check, ...] = (_merged, _licence, _tests_and_code, _language, _binary, _size, _statement)


def first_failure(cand: Candidate, split: PatchSplit, cfg: FilterConfig) -> Reason | None:
    """The first check (in the order of :data:`CHECKS`) that drops the candidate, or None."""
    for check in CHECKS:
        reason = check(cand, split, cfg)
        if reason is not None:
            return reason
    return None


def screen(
    cand: Candidate, split: PatchSplit, cfg: FilterConfig, dedupe: Deduper, decon: Decontamination
) -> tuple[Reason | None, str, str]:
    """All filters, then decontamination, then duplicates: (reason or None, detail, gold-patch hash)."""
    reason = first_failure(cand, split, cfg)
    if reason is not None:
        return reason, "", ""
    gold_hash = gold_fingerprint(split.gold)
    if decon.hit(cand, gold_hash):
        return Reason.decontaminated, "matches a known benchmark instance", ""
    holder = dedupe.first_of(gold_hash, f"{cand.repo}:{cand.key}")
    return (Reason.duplicate, f"same gold patch as {holder}", "") if holder else (None, "", gold_hash)
