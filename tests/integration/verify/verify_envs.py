"""The verifier tests' helpers: sample environments (shared: tests/sample_envs.py) and the patch maker."""

from __future__ import annotations

from collections.abc import Callable

from sample_envs import SampleEnvs, sample_tasks

PatchMaker = Callable[[dict[str, str | None]], str]

__all__ = ["PatchMaker", "SampleEnvs", "sample_tasks"]
