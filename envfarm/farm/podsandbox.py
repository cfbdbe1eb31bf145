"""A running env reached over its runtime's TCP port (pod IP): the Sandbox protocol over RuntimeClient."""

from __future__ import annotations

from envfarm.sandbox.client import RuntimeClient
from envfarm.sandbox.wire import ExecResult


class RemoteSandbox:
    """An env someone else started (a pod); ``stop`` only closes the connection, the owner removes it.

    The HTTP client is made on first use: a ``hold`` agent never talks to its env, and 10k idle clients
    would cost the controller memory and CPU for nothing.
    """

    def __init__(self, base_url: str, token: str, *, read_timeout_s: float = 60.0) -> None:
        self.base_url, self.token, self.read_timeout_s = base_url, token, read_timeout_s
        self._client: RuntimeClient | None = None

    @property
    def client(self) -> RuntimeClient:
        if self._client is None:
            self._client = RuntimeClient(
                self.token, base_url=self.base_url, read_timeout_s=self.read_timeout_s
            )
        return self._client

    async def start(self) -> None:
        await self.client.health()

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
        return await self.client.exec(
            cmd, timeout_s=timeout_s, cwd=cwd, env=env, stdin=stdin, raise_on_timeout=raise_on_timeout
        )

    async def read(self, path: str) -> bytes:
        return await self.client.read(path)

    async def write(self, path: str, content: bytes | str) -> None:
        await self.client.write(path, content)

    async def diff(self) -> bytes:
        return await self.client.diff()

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
