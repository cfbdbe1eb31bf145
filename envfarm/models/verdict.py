"""Verdicts: what a verifier says of one candidate (patch, or web trajectory)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from envfarm.models.task import Strict


class Outcome(StrEnum):
    passed = "pass"
    failed = "fail"
    partial = "partial"
    timeout = "timeout"
    infra_error = "infra_error"
    invalid = "invalid"


class Evidence(Strict):
    log_path: str = ""
    video_path: str = ""
    trace_path: str = ""
    junit_path: str = ""


class Timings(Strict):
    setup_s: float = 0.0
    apply_s: float = 0.0
    run_s: float = 0.0
    parse_s: float = 0.0
    total_s: float = 0.0


class TestResults(Strict):
    """Per-test outcome names from the parsed log, split the way SWE-bench reports them."""

    FAIL_TO_PASS: dict[str, list[str]] = Field(default_factory=dict)  # {"success": [...], "failure": [...]}
    PASS_TO_PASS: dict[str, list[str]] = Field(default_factory=dict)
    FAIL_TO_FAIL: list[str] = Field(default_factory=list)
    PASS_TO_FAIL: list[str] = Field(default_factory=list)


class Verdict(Strict):
    task_id: str
    outcome: Outcome
    reward: float | None  # None for infra_error: nothing may train on it
    components: dict[str, float] = Field(default_factory=dict)
    tests: TestResults = Field(default_factory=TestResults)
    evidence: Evidence = Field(default_factory=Evidence)
    hack_flags: list[str] = Field(default_factory=list)
    confidence: float = 1.0
    flake_rates: dict[str, float] = Field(default_factory=dict)
    reason: str = ""
    timings: Timings = Field(default_factory=Timings)
    verifier: str = ""
    verifier_version: str = ""
    runs: int = 1  # how many times the tests ran (reruns); confidence is their agreement
    apply_method: str = ""  # how the candidate patch went in: "git apply", "git apply --3way", "patch --fuzz"
