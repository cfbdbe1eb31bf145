"""Which local command a container image stands for in process mode (pure).

A pod's image is matched against a small table; the container's ``command``/``args`` are resolved the
way a container runtime does (command replaces the entrypoint, args follow) and the program name may be
rewritten (``python`` -> this interpreter). An image the table does not know fails like an image pull.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field


def repository(image: str) -> str:
    """The image without registry-neutral tag or digest: ``docker.io/library/python:3.11`` -> ``python``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


@dataclass(frozen=True)
class ImageRule:
    """Images whose repository matches ``pattern`` (fnmatch) run ``entrypoint`` unless a pod overrides it."""

    pattern: str
    entrypoint: tuple[str, ...] = ()
    rewrite: dict[str, str] = field(default_factory=dict)


def default_rules() -> list[ImageRule]:
    py = {"python": sys.executable, "python3": sys.executable}
    shell = ("sh",)
    return [
        ImageRule("python", (sys.executable,), py),
        ImageRule("python-*", (sys.executable,), py),
        ImageRule("*/python", (sys.executable,), py),
        ImageRule("busybox", shell, py),
        ImageRule("alpine", shell, py),
        ImageRule("debian", ("bash",), py),
        ImageRule("ubuntu", ("bash",), py),
    ]


class ImageTable:
    """An ordered list of rules; the first match wins."""

    def __init__(self, rules: list[ImageRule] | None = None) -> None:
        self.rules = list(default_rules() if rules is None else rules)

    def add(self, rule: ImageRule) -> None:
        """Add a rule in front of the others."""
        self.rules.insert(0, rule)

    def match(self, image: str) -> ImageRule | None:
        repo = repository(image)
        return next((r for r in self.rules if fnmatch.fnmatchcase(repo, r.pattern)), None)

    def argv(self, image: str, command: list[str] | None, args: list[str] | None) -> list[str] | None:
        """The local argv of a container, or None when the image is unknown."""
        rule = self.match(image)
        if rule is None:
            return None
        argv = list(command) if command else list(rule.entrypoint)
        argv += list(args or ())
        if not argv:
            return None
        argv[0] = rule.rewrite.get(argv[0], argv[0])
        return argv
