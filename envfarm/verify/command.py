"""The test command a verification runs, and the environment it runs under (pure).

Like the SWE-bench harness, the task's ``test_cmd`` runs on the test files its test_patch touches
(Django takes dotted modules), unless the command already names the files or tests to run. For pytest
a JUnit report is also asked for, written outside the workspace, as a second account of the run.
"""

from __future__ import annotations

import shlex

from envfarm.models.task import SweTask
from envfarm.verify.diffpaths import parse_diff
from envfarm.verify.parsers import is_pytest

DEFAULT_TEST_CMD = "pytest -rA --tb=no -p no:cacheprovider"
NON_TEST_EXTS = (".json", ".png", ".csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")
FIXED_HOME = "/tmp/envfarm-home"
DETERMINISTIC_ENV = {
    "TZ": "UTC",
    "PYTHONHASHSEED": "0",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": FIXED_HOME,
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "COLUMNS": "250",
    "NO_COLOR": "1",
    "PY_COLORS": "0",
}


def log_parser(task: SweTask) -> str:
    return task.install_config.log_parser if task.install_config else "parse_log_pytest"


def test_files(test_patch: str) -> list[str]:
    """Files the test_patch leaves in place (new names; deletions dropped), minus data files."""
    files = [c.new_path for c in parse_diff(test_patch) if c.new_path]
    return [f for f in dict.fromkeys(files) if not f.endswith(NON_TEST_EXTS)]


def directive(path: str, parser: str) -> str:
    if parser == "parse_log_django" and path.endswith(".py"):
        module = path[: -len(".py")]
        return module.removeprefix("tests/").replace("/", ".")
    return path


def base_command(task: SweTask) -> str:
    cmd = task.install_config.test_cmd if task.install_config else None
    if isinstance(cmd, list):
        return " && ".join(cmd) if cmd else DEFAULT_TEST_CMD
    return cmd or DEFAULT_TEST_CMD


def test_command(task: SweTask, junit_path: str | None = None) -> str:
    """The shell command to run; ``junit_path`` (pytest only) is where the JUnit report goes."""
    parser = log_parser(task)
    parts = [base_command(task)]
    if junit_path and wants_junit(task):
        parts += [f"--junitxml={shlex.quote(junit_path)}", "-o", "junit_family=xunit1"]
    if not names_tests(parts[0]):
        parts += [shlex.quote(directive(path, parser)) for path in test_files(task.test_patch)]
    return " ".join(parts)


def names_tests(cmd: str) -> bool:
    """Whether a command already names what to run (a ``.py`` file or a ``::`` node id)."""
    return any(word.endswith(".py") or "::" in word for word in cmd.split("&&")[-1].split()[1:])


def wants_junit(task: SweTask) -> bool:
    """Whether the command can be asked for a JUnit report (pytest run by the last command)."""
    last = base_command(task).split("&&")[-1].split()
    runs_pytest = any(word.rsplit("/", 1)[-1] in ("pytest", "py.test") for word in last[:3])
    return is_pytest(log_parser(task)) and (runs_pytest or "-m pytest" in " ".join(last[:4]))


def run_env(task: SweTask) -> dict[str, str]:
    """Environment variables of the run: the task's own, then the fixed deterministic ones on top."""
    own = dict(task.install_config.env_vars) if task.install_config else {}
    return {**own, **DETERMINISTIC_ENV}
