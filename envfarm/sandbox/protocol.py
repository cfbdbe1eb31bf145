"""The ``Sandbox`` protocol: what every environment backend (local bubblewrap, Kubernetes pod) offers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from envfarm.sandbox.wire import ExecResult


@runtime_checkable
class Sandbox(Protocol):
    """One environment: started once, takes commands, gives its diff, stopped without a trace."""

    async def start(self) -> None: ...

    async def exec(
        self,
        cmd: str | list[str],
        *,
        timeout_s: float = 600.0,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        raise_on_timeout: bool = True,
    ) -> ExecResult: ...

    async def read(self, path: str) -> bytes: ...

    async def write(self, path: str, content: bytes | str) -> None: ...

    async def diff(self) -> bytes: ...

    async def stop(self) -> None: ...
