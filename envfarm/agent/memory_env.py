"""An in-process environment (files in a dict, commands answered at once) for benchmarks and tests.

It implements the Sandbox protocol without a process, so a benchmark can hold 1,000 rollouts in one
Python process and a test can inject faults exactly: an environment that never comes up, or one that is
lost after its n-th command. Commands are not run: ``exec`` answers ``ran: <command>`` (or what the
``answer`` callable says) after ``exec_s`` seconds. Not a sandbox: nothing here isolates anything.
"""

from __future__ import annotations

import asyncio
import difflib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from envfarm.errors import EnvBuildError, RuntimeRequestError, RuntimeUnreachable
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome, Verdict
from envfarm.sandbox.protocol import Sandbox
from envfarm.sandbox.wire import ExecResult


class MemorySandbox:
    def __init__(
        self,
        files: dict[str, str],
        *,
        name: str = "mem",
        exec_s: float = 0.0,
        lose_after: int | None = None,
        answer: Callable[[str], ExecResult] | None = None,
    ) -> None:
        self.base = dict(files)
        self.files = {k: v.encode() for k, v in files.items()}
        self.name, self.exec_s, self.lose_after, self.answer = name, exec_s, lose_after, answer
        self.execs = 0
        self.stopped = False

    def _check(self) -> None:
        if self.stopped or (self.lose_after is not None and self.execs > self.lose_after):
            raise RuntimeUnreachable(f"runtime of {self.name} is gone")

    async def start(self) -> None:
        return None

    async def exec(
        self,
        cmd: str | list[str],
        *,
        timeout_s: float = 600.0,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        raise_on_timeout: bool = True,
    ) -> ExecResult:
        self.execs += 1
        self._check()
        if self.exec_s:
            await asyncio.sleep(self.exec_s)
        text = cmd if isinstance(cmd, str) else " ".join(cmd)
        return (
            self.answer(text) if self.answer else ExecResult(exit_code=0, stdout=f"ran: {text}\n", stderr="")
        )

    async def read(self, path: str) -> bytes:
        self._check()
        if path not in self.files:
            raise RuntimeRequestError(f"no such file or directory: {path}", status=404, code="not_found")
        return self.files[path]

    async def write(self, path: str, content: bytes | str) -> None:
        self._check()
        self.files[path] = content.encode() if isinstance(content, str) else content

    async def diff(self) -> bytes:
        self._check()
        parts = []
        for path in sorted(set(self.files) | set(self.base)):
            old, new = self.base.get(path), self.files.get(path, b"").decode("utf-8", "replace")
            if old != new:
                parts.append(_file_diff(path, old, new))
        return "".join(parts).encode()

    async def stop(self) -> None:
        self.stopped = True


def _file_diff(path: str, old: str | None, new: str) -> str:
    head = f"diff --git a/{path} b/{path}\n"
    before = "/dev/null" if old is None else f"a/{path}"
    if old is None:
        head += "new file mode 100644\n"
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True), new.splitlines(keepends=True), before, f"b/{path}"
    )
    return head + "".join(lines)


@dataclass
class MemoryEnvs:
    """Environments of any task holding ``files``, with fault injection and counters."""

    files: dict[str, str]
    exec_s: float = 0.0
    fail_up: Callable[[SweTask, int], bool] | None = None  # (task, n-th up) -> fail this one
    lose_after: Callable[[SweTask, int], int | None] | None = None  # -> lost after that many commands
    answer: Callable[[str], ExecResult] | None = None
    ups: int = 0
    live: int = 0
    peak: int = 0

    def __post_init__(self) -> None:
        self._count = itertools.count()

    async def up(self, task: SweTask) -> Sandbox:
        n = next(self._count)
        self.ups += 1
        if self.fail_up is not None and self.fail_up(task, n):
            raise EnvBuildError(f"environment {n} of {task.instance_id} did not come up (injected)")
        lose = self.lose_after(task, n) if self.lose_after else None
        self.live += 1
        self.peak = max(self.peak, self.live)
        return MemorySandbox(
            self.files, name=f"mem-{n}", exec_s=self.exec_s, lose_after=lose, answer=self.answer
        )

    async def down(self, env: Sandbox) -> None:
        self.live -= 1
        await env.stop()


class PatchVerifier:
    """A verifier without environments: pass when ``passes(patch)``, else fail."""

    def __init__(self, passes: Callable[[str], bool], *, infra_errors: int = 0, delay_s: float = 0.0) -> None:
        self.passes, self.infra_errors, self.delay_s = passes, infra_errors, delay_s
        self.calls = 0

    async def verify(self, task: SweTask, patch: str) -> Verdict:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.calls <= self.infra_errors:
            return Verdict(
                task_id=task.instance_id, outcome=Outcome.infra_error, reward=None, reason="injected"
            )
        ok = self.passes(patch)
        outcome = Outcome.passed if ok else Outcome.failed
        return Verdict(
            task_id=task.instance_id, outcome=outcome, reward=1.0 if ok else 0.0, verifier="memory"
        )
