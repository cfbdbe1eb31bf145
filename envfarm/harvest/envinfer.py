"""Environment inference from a repository's files at the base commit (pure).

Input is a mapping of path -> text holding the files :func:`wanted` selects; output is an
:class:`InstallConfig` (SWE-rebench key set). Older commits get older Pythons and older pytest, by date.
"""

from __future__ import annotations

import configparser
import contextlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from typing import Any

import yaml

from envfarm.harvest.pyversions import PYTHON_RELEASES, as_tuple, pytest_pin, released_by, satisfies
from envfarm.models.task import InstallConfig

ENV_GLOBS: tuple[str, ...] = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    "requirements*.txt",
    "*requirements*.txt",
    "requirements/*.txt",
    ".github/workflows/*.yml",
    ".github/workflows/*.yaml",
    ".travis.yml",
)
TEST_EXTRAS: tuple[str, ...] = ("test", "tests", "testing", "dev")
TEST_REQUIREMENTS: tuple[str, ...] = (
    "requirements-test.txt",
    "requirements-tests.txt",
    "test-requirements.txt",
    "requirements-dev.txt",
    "dev-requirements.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/dev.txt",
)
PYTEST_FLAGS = "pytest -rA --tb=short -p no:cacheprovider"
_CLASSIFIER = re.compile(r"Programming Language :: Python :: (\d\.\d+)\b")
_TOX_ENV = re.compile(r"\bpy(\d)(\d+)\b|\bpy(\d)\.(\d+)\b")
_SETUP_PY_REQUIRES = re.compile(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]")
_SETUP_PY_EXTRAS = re.compile(r"['\"](test|tests|testing|dev)['\"]\s*:")


def wanted(path: str) -> bool:
    """Whether inference reads this path (the caller fetches only these)."""
    return any(fnmatch(path, pattern) for pattern in ENV_GLOBS)


def infer(files: Mapping[str, str], date: str, available: Iterable[str] | None = None) -> InstallConfig:
    """An install config for a repo whose files at base are ``files``, committed on ``date``."""
    python = choose_python(files, date, available)
    extras = test_extras(files)
    reqs = [p for p in TEST_REQUIREMENTS if p in files]
    if "requirements.txt" in files:
        reqs.insert(0, "requirements.txt")
    unittest_only = _unittest_only(files)
    pins = [] if unittest_only else [pytest_pin(date, python)]
    return InstallConfig(
        python=python,
        pip_packages=pins + tox_deps(files),
        pre_install=[f"pip install -r {r}" for r in reqs],
        reqs_path=reqs,
        install=_install_cmd(files, extras),
        test_cmd="python -m unittest -v" if unittest_only else PYTEST_FLAGS,
        log_parser="parse_log_unittest" if unittest_only else "parse_log_pytest",
    )


def choose_python(files: Mapping[str, str], date: str, available: Iterable[str] | None = None) -> str:
    """The newest Python that the repo declares, its requires-python allows and existed at ``date``."""
    spec = requires_python(files)
    pool = [v for v in released_by(date) if satisfies(v, spec)]
    if available is not None:
        have = set(available)
        pool = [v for v in pool if v in have] or pool
    declared = [v for v in declared_pythons(files) if v in pool]
    ranked = sorted(declared or pool or [PYTHON_RELEASES[-1][0]], key=as_tuple)
    return ranked[-1]


def requires_python(files: Mapping[str, str]) -> str:
    project = _toml(files.get("pyproject.toml", "")).get("project", {})
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        return str(project["requires-python"])
    cfg = _ini(files.get("setup.cfg", ""))
    if cfg.has_option("options", "python_requires"):
        return cfg.get("options", "python_requires")
    match = _SETUP_PY_REQUIRES.search(files.get("setup.py", ""))
    return match.group(1) if match else ""


def declared_pythons(files: Mapping[str, str]) -> list[str]:
    """Versions named by classifiers, tox envlists and CI matrices (GitHub Actions, Travis)."""
    found: list[str] = []
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        found += _CLASSIFIER.findall(files.get(name, ""))
    for match in _TOX_ENV.finditer(_ini(files.get("tox.ini", "")).get("tox", "envlist", fallback="")):
        found.append(".".join(g for g in match.groups() if g))
    for path, text in files.items():
        if path.startswith(".github/workflows/") or path == ".travis.yml":
            found += _ci_pythons(text)
    known = {v for v, _ in PYTHON_RELEASES}
    return sorted({v for v in found if v in known}, key=as_tuple)


def _ci_pythons(text: str) -> list[str]:
    try:
        data = yaml.load(text, Loader=yaml.BaseLoader)  # strings only: 3.10 stays "3.10"
    except yaml.YAMLError:
        return []
    return [v.strip() for v in _walk(data, ("python-version", "python")) if isinstance(v, str)]


def _walk(node: Any, keys: tuple[str, ...]) -> list[Any]:
    out: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                out += value if isinstance(value, list) else [value]
            out += _walk(value, keys)
    elif isinstance(node, list):
        for item in node:
            out += _walk(item, keys)
    return out


def test_extras(files: Mapping[str, str]) -> list[str]:
    """Optional-dependency groups that hold test requirements (pyproject, setup.cfg, setup.py)."""
    project = _toml(files.get("pyproject.toml", "")).get("project", {})
    names: list[str] = list(project.get("optional-dependencies", {})) if isinstance(project, dict) else []
    cfg = _ini(files.get("setup.cfg", ""))
    if cfg.has_section("options.extras_require"):
        names += list(cfg["options.extras_require"])
    names += _SETUP_PY_EXTRAS.findall(files.get("setup.py", ""))
    return [n for n in TEST_EXTRAS if n in names][:1]


def tox_deps(files: Mapping[str, str]) -> list[str]:
    """The [testenv] deps of tox.ini, without references to files, extras or the package itself."""
    raw = _ini(files.get("tox.ini", "")).get("testenv", "deps", fallback="")
    deps = [d.strip() for d in raw.splitlines()]
    return [d for d in deps if d and not d.startswith(("-r", "-c", "-e", ".", "{")) and "pytest" not in d]


def _install_cmd(files: Mapping[str, str], extras: list[str]) -> str:
    if not any(name in files for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        return ""
    suffix = f"[{','.join(extras)}]" if extras else ""
    return f"pip install -e .{suffix}"


def _unittest_only(files: Mapping[str, str]) -> bool:
    text = "\n".join(files.values())
    return "unittest" in text and "pytest" not in text


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text) if text else {}
    except tomllib.TOMLDecodeError:
        return {}


def _ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(configparser.Error):
        parser.read_string(text)
    return parser
