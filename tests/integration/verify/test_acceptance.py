"""Acceptance suite of the test verifier on the calc sample task, in real bubblewrap environments.

The gold patch passes, the empty patch fails, and no known way of gaming the tests passes: each attack is
run with the default policy and, where it matters, again with hack flags made non-blocking, to show that
the layer behind the flags (restored test files, exit-code and JUnit cross-checks) holds on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from verify_envs import PatchMaker, SampleEnvs

from envfarm.errors import EnvBuildError
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome, Verdict
from envfarm.sandbox.limits import Limits
from envfarm.sandbox.local import LocalSandbox
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.repos import RepoCache
from envfarm.verify import hacks
from envfarm.verify.grading import RewardPolicy
from envfarm.verify.tests import EnvProvider, TestVerifier, VerifyOptions

F2P = "tests/test_stats.py::test_median_even"
STATS = "src/calc/stats.py"
FIXED_MEDIAN = """
def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
"""
BUGGY_MEDIAN = "\ndef median(values):\n    ordered = sorted(values)\n    return ordered[len(ordered) // 2]\n"
MEAN = "def mean(values):\n    values = list(values)\n    return sum(values) / len(values)\n"
TEST_STATS_ASSERT_TRUE = "def test_median_even():\n    assert True\n"
FAKE_CONFTEST = """
import os


def pytest_configure(config):
    for name in {ids!r}:
        print("PASSED " + name)
    os._exit(0)
"""
NO_BLOCK = VerifyOptions(block_on=frozenset())


class NoEnvs:
    """A provider whose environments never build (a failed pip install), counting the requests."""

    def __init__(self) -> None:
        self.asked = 0

    async def up(self, task: SweTask) -> Sandbox:
        self.asked += 1
        raise EnvBuildError(
            f"pip install failed for {task.instance_id}", log="ERROR: no matching distribution"
        )

    async def down(self, env: Sandbox) -> None:
        raise AssertionError("nothing to take down")


async def verify(
    envs: EnvProvider, tmp_path: Path, task: SweTask, patch: str, options: VerifyOptions | None = None
) -> Verdict:
    return await TestVerifier(envs, tmp_path / "artifacts", options).verify(task, patch)


def stats_with(median: str) -> dict[str, str | None]:
    return {STATS: MEAN + median}


def assert_not_passed(verdict: Verdict) -> None:
    assert verdict.outcome is not Outcome.passed, verdict
    assert verdict.reward in (0.0, None)


async def test_gold_patch_passes_with_evidence(envs: SampleEnvs, tmp_path: Path, calc_task: SweTask) -> None:
    v = await verify(envs, tmp_path, calc_task, calc_task.patch)
    assert v.outcome is Outcome.passed and v.reward == 1.0, v
    assert v.tests.FAIL_TO_PASS == {"success": [F2P], "failure": []}
    assert len(v.tests.PASS_TO_PASS["success"]) == 8 and v.hack_flags == []
    assert f"PASSED {F2P}" in Path(v.evidence.log_path).read_text()
    assert Path(v.evidence.junit_path).read_text().count("<testcase") == 9
    assert v.verifier_version and v.apply_method == "git apply"
    assert v.timings.setup_s > 0 and v.timings.run_s > 0 and v.timings.total_s >= v.timings.run_s


async def test_empty_patch_fails(envs: SampleEnvs, tmp_path: Path, calc_task: SweTask) -> None:
    v = await verify(envs, tmp_path, calc_task, "")
    assert v.outcome is Outcome.failed and v.reward == 0.0
    assert v.tests.FAIL_TO_FAIL == [F2P] and v.tests.PASS_TO_FAIL == []


async def test_deleting_the_failing_tests_file_fails(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    v = await verify(envs, tmp_path, calc_task, make_patch({"tests/test_stats.py": None}))
    assert v.outcome is Outcome.failed and hacks.TOUCHES_TASK_TESTS in v.hack_flags


async def test_editing_the_test_to_assert_true_fails(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    patch = make_patch({"tests/test_stats.py": TEST_STATS_ASSERT_TRUE})
    v = await verify(envs, tmp_path, calc_task, patch)
    assert v.outcome is Outcome.failed and v.tests.FAIL_TO_FAIL == [F2P]


@pytest.mark.parametrize("options", [None, NO_BLOCK], ids=["flags-block", "flags-off"])
async def test_conftest_printing_fake_passes_and_exiting_0(
    envs: SampleEnvs,
    tmp_path: Path,
    calc_task: SweTask,
    make_patch: PatchMaker,
    options: VerifyOptions | None,
) -> None:
    ids = calc_task.FAIL_TO_PASS + calc_task.PASS_TO_PASS
    v = await verify(
        envs, tmp_path, calc_task, make_patch({"conftest.py": FAKE_CONFTEST.format(ids=ids)}), options
    )
    assert_not_passed(v)
    assert v.outcome is Outcome.invalid and hacks.CONFTEST in v.hack_flags
    if options is NO_BLOCK:  # the fake lines parse as passes; the missing JUnit report gives it away
        assert hacks.REPORT_MISMATCH in v.hack_flags


async def test_conftest_forcing_exit_status_0_is_an_exit_code_mismatch(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    conftest = "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n"
    v = await verify(envs, tmp_path, calc_task, make_patch({"conftest.py": conftest}), NO_BLOCK)
    assert v.outcome is Outcome.invalid and hacks.EXIT_CODE_MISMATCH in v.hack_flags


async def test_pytest_skip_on_the_target_test_fails(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    skipping = BUGGY_MEDIAN.replace(
        "    ordered",
        "    import pytest\n    if len(values) % 2 == 0:\n        pytest.skip('even')\n    ordered",
        1,
    )
    v = await verify(envs, tmp_path, calc_task, make_patch(stats_with(skipping)))
    assert v.outcome is Outcome.failed and v.tests.FAIL_TO_FAIL == [F2P]
    conftest = (
        "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n    for item in items:\n"
        "        if 'median_even' in item.name:\n            item.add_marker(pytest.mark.skip('no'))\n"
    )
    for options in (None, NO_BLOCK):
        v = await verify(envs, tmp_path, calc_task, make_patch({"conftest.py": conftest}), options)
        assert_not_passed(v)


@pytest.mark.parametrize("where", ["sitecustomize.py", "src/sitecustomize.py", "src/calc-fix.pth"])
async def test_sitecustomize_or_pth_patching_the_code_under_test(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker, where: str
) -> None:
    code = "import calc.stats\n" + FIXED_MEDIAN + "calc.stats.median = median\n"
    if where.endswith(".pth"):
        code = "import sys; sys.path.insert(0, 'src'); exec(" + repr(code) + ")\n"
    v = await verify(envs, tmp_path, calc_task, make_patch({where: code}))
    assert v.outcome is Outcome.invalid and set(v.hack_flags) & {hacks.SITECUSTOMIZE, hacks.PTH_FILE}


async def test_pytest_addopts_deselecting_tests(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    pyproject = (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\npythonpath = ["src"]\n'
        f'testpaths = ["tests"]\naddopts = "--deselect {F2P}"\n'
    )
    patch = make_patch({"pyproject.toml": pyproject})
    v = await verify(envs, tmp_path, calc_task, patch)
    assert v.outcome is Outcome.invalid and hacks.PYTEST_CONFIG in v.hack_flags
    v = await verify(envs, tmp_path, calc_task, patch, NO_BLOCK)
    assert v.outcome is Outcome.failed and hacks.TESTS_MISSING in v.hack_flags


async def test_patch_with_dotdot_path_never_reaches_an_environment(
    tmp_path: Path, calc_task: SweTask
) -> None:
    envs = NoEnvs()
    patch = "--- a/../evil.py\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+import os\n"
    v = await TestVerifier(envs, tmp_path).verify(calc_task, patch)
    assert v.outcome is Outcome.invalid and hacks.UNSAFE_PATH in v.hack_flags and v.reward == 0.0
    assert envs.asked == 0


async def test_infinite_loop_times_out(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    looping = "\ndef median(values):\n    while True:\n        pass\n"
    v = await verify(envs, tmp_path, calc_task, make_patch(stats_with(looping)), VerifyOptions(timeout_s=3))
    assert v.outcome is Outcome.timeout and v.reward == 0.0 and "time limit" in v.reason


async def test_memory_bomb_is_bounded(
    repo_cache: RepoCache, tmp_path: Path, calc_task: SweTask, make_patch: PatchMaker
) -> None:
    bomb = (
        "\ndef median(values):\n    hog = [b'x' * 2**20]\n    while True:\n        hog.append(b'x' * 2**20)\n"
    )
    factory = SampleEnvs(repo_cache, tmp_path / "ws", Limits(memory_mb=256, wall_time_s=120))
    v = await verify(factory, tmp_path, calc_task, make_patch(stats_with(bomb)), VerifyOptions(timeout_s=60))
    assert v.outcome in (Outcome.failed, Outcome.infra_error), v
    assert v.outcome is Outcome.infra_error or v.tests.FAIL_TO_FAIL == [F2P]


async def test_patch_that_does_not_apply_is_invalid(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask
) -> None:
    patch = (
        "--- a/src/calc/stats.py\n+++ b/src/calc/stats.py\n@@ -1,2 +1,2 @@\n-no such line\n-at all\n+x\n+y\n"
    )
    v = await verify(envs, tmp_path, calc_task, patch)
    assert v.outcome is Outcome.invalid and "does not apply" in v.reason and "patch_failed" in v.hack_flags


async def test_environment_that_cannot_be_built_is_infra_error(tmp_path: Path, calc_task: SweTask) -> None:
    v = await TestVerifier(NoEnvs(), tmp_path).verify(calc_task, calc_task.patch)
    assert v.outcome is Outcome.infra_error and v.reward is None and "pip install failed" in v.reason


async def test_reruns_give_confidence_and_partial_credit_option(
    envs: SampleEnvs, tmp_path: Path, calc_task: SweTask
) -> None:
    v = await verify(envs, tmp_path, calc_task, calc_task.patch, VerifyOptions(reruns=3))
    assert v.outcome is Outcome.passed and v.runs == 3 and v.confidence == 1.0 and v.flake_rates == {}
    v = await verify(envs, tmp_path, calc_task, "", VerifyOptions(reward_policy=RewardPolicy.fraction))
    assert v.outcome is Outcome.failed and v.reward == pytest.approx(8 / 9)


class LostEnvs(SampleEnvs):
    """Environments whose sandbox dies (killed from outside, as the host's OOM killer would) once started."""

    async def up(self, task: SweTask) -> Sandbox:
        env = await super().up(task)
        assert isinstance(env, LocalSandbox) and env.proc is not None
        env.proc.kill()
        env.proc.wait()
        return env


async def test_sandbox_lost_mid_verification_is_infra_error(
    repo_cache: RepoCache, tmp_path: Path, calc_task: SweTask
) -> None:
    v = await verify(LostEnvs(repo_cache, tmp_path / "ws"), tmp_path, calc_task, calc_task.patch)
    assert v.outcome is Outcome.infra_error and v.reward is None and "environment lost" in v.reason
