"""Per-language rules: which files are source, which are tests (pure). New languages plug into LANGUAGES."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field


class PathRules(BaseModel):
    """Which paths are test files. A path is a test file if a directory on it is in ``test_dirs``, its file
    name matches one of ``test_names``, or the whole path matches one of ``test_globs``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    test_dirs: tuple[str, ...] = ("tests", "test", "testing")
    test_names: tuple[str, ...] = ("test_*.py", "*_test.py", "tests.py", "conftest.py")
    test_globs: tuple[str, ...] = ()

    def is_test(self, path: str) -> bool:
        parts = PurePosixPath(path).parts
        if any(part in self.test_dirs for part in parts[:-1]):
            return True
        if parts and any(fnmatch(parts[-1], pattern) for pattern in self.test_names):
            return True
        return any(fnmatch(path, pattern) for pattern in self.test_globs)


class Language(BaseModel):
    """One language the harvester knows: source extensions and default test-path rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    extensions: tuple[str, ...]
    rules: PathRules = Field(default_factory=PathRules)

    def is_source(self, path: str) -> bool:
        return path.endswith(self.extensions)


LANGUAGES: dict[str, Language] = {
    "python": Language(name="python", extensions=(".py", ".pyx", ".pyi")),
}


def language(name: str) -> Language:
    """The registered language called ``name``; a KeyError names the ones there are."""
    try:
        return LANGUAGES[name]
    except KeyError:
        raise KeyError(f"unknown language {name!r}; known: {sorted(LANGUAGES)}") from None
