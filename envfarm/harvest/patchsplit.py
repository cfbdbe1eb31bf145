"""Split a fix's diff into the test patch and the gold patch by path rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from envfarm.harvest.diffs import FileDiff, join_files, split_files
from envfarm.harvest.languages import PathRules


@dataclass(frozen=True)
class PatchSplit:
    """A diff cut in two: ``gold`` (the fix) and ``tests`` (what the task's tests need)."""

    gold_files: list[FileDiff]
    test_files: list[FileDiff]

    @property
    def gold(self) -> str:
        return join_files(self.gold_files)

    @property
    def tests(self) -> str:
        return join_files(self.test_files)

    @property
    def gold_lines(self) -> int:
        return sum(f.added + f.removed for f in self.gold_files)

    @property
    def test_lines(self) -> int:
        return sum(f.added + f.removed for f in self.test_files)


def split_patch(diff: str, rules: PathRules | None = None) -> PatchSplit:
    """Every file the ``rules`` call a test file goes to ``tests``; every other file to ``gold``."""
    chosen = rules or PathRules()
    gold: list[FileDiff] = []
    tests: list[FileDiff] = []
    for file in split_files(diff):
        (tests if chosen.is_test(file.path) else gold).append(file)
    return PatchSplit(gold, tests)
