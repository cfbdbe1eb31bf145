"""A running env reached over its runtime's TCP port (pod IP): the Sandbox protocol over RuntimeClient."""

from __future__ import annotations

from envfarm.sandbox.client import RuntimeBacked, RuntimeClient


class RemoteSandbox(RuntimeBacked):
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

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
