"""The default VerifyKit: the test verifier's parsers, grading and scripts, built inside envfarm.harvest."""

from __future__ import annotations

from envfarm.harvest.judge import Run
from envfarm.harvest.kit import verifier_probe, verify_kit
from envfarm.harvest.validate import Validator
from envfarm.models.task import SweTask
from envfarm.sandbox.protocol import Sandbox
from envfarm.verify import scripts

LOG = "PASSED tests/test_a.py::test_ok\nFAILED tests/test_a.py::test_bad - assert 1 == 2\n"


async def no_env(task: SweTask) -> Sandbox:
    raise AssertionError("not called")


def test_validator_defaults_to_the_verifier_kit() -> None:
    kit = Validator(no_env).kit
    assert kit.probe is verifier_probe
    assert kit.parse("parse_log_pytest", LOG) == {
        "tests/test_a.py::test_ok": "PASSED",
        "tests/test_a.py::test_bad": "FAILED",
    }
    assert (kit.gold_failed_code, kit.test_patch_failed_code) == (
        scripts.CANDIDATE_FAILED,
        scripts.TEST_PATCH_FAILED,
    )
    assert "pytest -x" in kit.run_script("pytest -x") and scripts.LOG in kit.run_script("pytest -x")


def test_an_injected_kit_is_kept() -> None:
    kit = verify_kit()
    assert Validator(no_env, kit).kit is kit


def test_verifier_probe_grades_like_the_verifier() -> None:
    f2p, p2p = ["t::fixed"], ["t::kept"]
    assert verifier_probe(f2p, p2p, Run({"t::fixed": "FAILED", "t::kept": "PASSED"}, 1)) == "fail"
    assert verifier_probe(f2p, p2p, Run({"t::fixed": "PASSED", "t::kept": "PASSED"}, 0)) == "pass"
    assert verifier_probe(f2p, p2p, Run({"t::kept": "PASSED"}, 0)) != "pass"  # a missing F2P test fails
