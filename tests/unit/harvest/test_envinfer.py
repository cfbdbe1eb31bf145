from __future__ import annotations

import pytest

from envfarm.harvest.envinfer import choose_python, declared_pythons, infer, requires_python, wanted
from envfarm.harvest.pyversions import pytest_pin, satisfies

PYPROJECT = """
[project]
name = "pkg"
requires-python = ">=3.8"
classifiers = [
  "Programming Language :: Python :: 3.8",
  "Programming Language :: Python :: 3.9",
  "Programming Language :: Python :: 3.10",
]
[project.optional-dependencies]
docs = ["sphinx"]
test = ["pytest", "hypothesis"]
"""
WORKFLOW = """
jobs:
  test:
    strategy:
      matrix:
        python-version: [3.9, "3.10", 3.11]
"""
TOX = "[tox]\nenvlist = py36,py37,py3.8\n[testenv]\ndeps =\n    pytest\n    mock>=2\n    -rrequirements.txt\n"


def test_python_from_classifiers_capped_by_commit_date() -> None:
    files = {"pyproject.toml": PYPROJECT}
    assert choose_python(files, "2022-05-01T00:00:00Z") == "3.10"
    assert choose_python(files, "2020-11-01T00:00:00Z") == "3.9"  # 3.10 did not exist yet


def test_ci_matrix_keeps_3_10_as_text_and_tox_envlist() -> None:
    files = {".github/workflows/ci.yml": WORKFLOW, "tox.ini": TOX}
    assert declared_pythons(files) == ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11"]
    assert choose_python(files, "2023-01-01") == "3.11"


def test_requires_python_sources_and_fallback_to_date() -> None:
    assert requires_python({"setup.cfg": "[options]\npython_requires = >=3.7\n"}) == ">=3.7"
    assert requires_python({"setup.py": "setup(python_requires='>=2.7, !=3.0.*')"}) == ">=2.7, !=3.0.*"
    assert choose_python({}, "2019-01-01") == "3.7"
    assert choose_python({"setup.py": "setup(python_requires='<3')"}, "2019-01-01") == "2.7"


def test_available_interpreters_narrow_the_choice() -> None:
    assert choose_python({"pyproject.toml": PYPROJECT}, "2024-01-01", available=["3.9", "3.11"]) == "3.9"


def test_install_config_for_a_modern_project() -> None:
    files = {"pyproject.toml": PYPROJECT, "requirements.txt": "attrs\n", "tox.ini": TOX}
    cfg = infer(files, "2022-05-01T00:00:00Z")
    assert cfg.python == "3.10"
    assert cfg.install == "pip install -e .[test]"
    assert cfg.pre_install == ["pip install -r requirements.txt"]
    assert cfg.pip_packages == ["pytest<8", "mock>=2"]
    assert cfg.log_parser == "parse_log_pytest"
    assert isinstance(cfg.test_cmd, str) and cfg.test_cmd.startswith("pytest -rA")


def test_old_commit_gets_old_python_and_old_pytest() -> None:
    files = {"setup.py": "from setuptools import setup\nsetup(extras_require={'tests': ['pytest']})\n"}
    cfg = infer(files, "2017-03-01T00:00:00Z")
    assert cfg.python == "3.6"
    assert cfg.pip_packages == ["pytest<5"]
    assert cfg.install == "pip install -e .[tests]"


def test_unittest_only_project() -> None:
    files = {"tox.ini": "[testenv]\ncommands = python -m unittest discover\n", "setup.py": "setup()"}
    cfg = infer(files, "2021-01-01")
    assert cfg.test_cmd == "python -m unittest -v" and cfg.log_parser == "parse_log_unittest"
    assert cfg.pip_packages == []


def test_broken_files_do_not_crash() -> None:
    files = {"pyproject.toml": "[project\n", "tox.ini": "not ini", ".github/workflows/x.yml": ": : :"}
    assert infer(files, "2021-06-01").python == "3.9"


def test_wanted_paths() -> None:
    assert wanted("requirements/test.txt") and wanted("test-requirements.txt")
    assert wanted(".github/workflows/ci.yaml") and not wanted("pkg/setup.py")


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("3.8", ">=3.7", True),
        ("3.6", ">=3.7", False),
        ("3.6", ">=3.6.1", True),
        ("3.8", "<3.8", False),
        ("3.8", "!=3.8.*", False),
        ("2.7", ">=2.7,!=3.0.*,!=3.1.*", True),
        ("3.10", "~=3.8", True),
        ("3.9", "~=3.8.1", False),
        ("3.12", "==3.11", False),
    ],
)
def test_specifiers(version: str, spec: str, ok: bool) -> None:
    assert satisfies(version, spec) is ok


def test_pytest_pin_is_the_tighter_of_date_and_python() -> None:
    assert pytest_pin("2021-01-01", "3.6") == "pytest<7"
    assert pytest_pin("2023-06-01", "3.6") == "pytest<7.1"
    assert pytest_pin("2025-01-01", "3.12") == "pytest<9"
