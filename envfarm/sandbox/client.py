"""Async client of the in-environment runtime, over a unix socket (local) or TCP (pods).

Requests that never reached the runtime (connect failures) are retried for every call; a call that may
have run is retried only when it is idempotent (health, read, list, diff), never exec or write.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any, TypeVar

import httpx

from envfarm.errors import (
    CommandTimeout,
    OutputTooLarge,
    RuntimeAuthError,
    RuntimeRequestError,
    RuntimeUnreachable,
)
from envfarm.sandbox.wire import (
    DiffResult,
    ErrorBody,
    ExecRequest,
    ExecResult,
    Health,
    ListResult,
    ReadResult,
    Wire,
    WriteResult,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Wire)
IDEMPOTENT = {"/v1/health", "/v1/read", "/v1/list", "/v1/diff"}


class RuntimeClient:
    """One environment's runtime. Use as ``async with RuntimeClient(...) as rt``."""

    def __init__(
        self,
        token: str,
        *,
        unix_socket: str | None = None,
        base_url: str = "http://runtime",
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 60.0,
        retries: int = 3,
        max_response_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        # plain HTTP only (unix socket, or pod IP inside the cluster): skip building a TLS context (~20 ms)
        plain = unix_socket is not None or base_url.startswith("http://")
        transport = httpx.AsyncHTTPTransport(uds=unix_socket, verify=not plain)
        self.where = unix_socket or base_url
        self.retries = retries
        self.max_response_bytes = max_response_bytes
        self.read_timeout_s = read_timeout_s
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
        )

    async def __aenter__(self) -> RuntimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def health(self) -> Health:
        return await self._call("GET", "/v1/health", None, Health)

    async def exec(
        self,
        cmd: str | list[str],
        *,
        timeout_s: float = 600.0,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        max_output: int | None = None,
        raise_on_timeout: bool = True,
    ) -> ExecResult:
        """Run a shell string or an argv; a command past ``timeout_s`` raises CommandTimeout."""
        req = ExecRequest(
            argv=cmd if isinstance(cmd, list) else None,
            cmd=cmd if isinstance(cmd, str) else None,
            cwd=cwd,
            env=env or {},
            stdin=stdin,
            timeout_s=timeout_s,
            max_output=max_output,
        )
        res = await self._call("POST", "/v1/exec", req.model_dump(), ExecResult, timeout_s + 10.0)
        if res.timed_out and raise_on_timeout:
            raise CommandTimeout(f"command {_show(cmd)} ran past {timeout_s}s at {self.where}; killed")
        return res

    async def read(self, path: str, *, max_bytes: int | None = None) -> bytes:
        body = {"path": path, "max_bytes": max_bytes}
        return (await self._call("POST", "/v1/read", body, ReadResult)).content

    async def write(self, path: str, content: bytes | str, *, mode: int = 0o644) -> WriteResult:
        data = content.encode() if isinstance(content, str) else content
        body = {"path": path, "content_b64": base64.b64encode(data).decode(), "mode": mode}
        return await self._call("POST", "/v1/write", body, WriteResult)

    async def list(self, path: str = ".") -> ListResult:
        return await self._call("POST", "/v1/list", {"path": path}, ListResult)

    async def diff(self, base_commit: str | None = None) -> bytes:
        """The workspace's ``git diff --binary`` against the base commit, untracked files included."""
        return (await self._call("POST", "/v1/diff", {"base_commit": base_commit}, DiffResult)).patch

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, model: type[M], read_s: float | None = None
    ) -> M:
        for attempt in range(self.retries + 1):
            try:
                return await self._once(method, path, body, model, read_s)
            except RuntimeUnreachable as exc:
                sent = not isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt == self.retries or (sent and path not in IDEMPOTENT):
                    raise
                log.debug("retrying %s %s after %s", method, path, exc)
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, path: str, body: dict[str, Any] | None, model: type[M], read_s: float | None
    ) -> M:
        timeout = httpx.Timeout(read_s or self.read_timeout_s, connect=self._http.timeout.connect)
        request = self._http.build_request(method, path, json=body, timeout=timeout)
        try:
            response = await self._http.send(request, stream=True)
            try:
                data = await self._body(response, path)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise RuntimeUnreachable(f"runtime at {self.where} did not answer {path}: {exc!r}") from exc
        if response.status_code != 200:
            raise self._error(response.status_code, data, path)
        return model.model_validate_json(data)

    async def _body(self, response: httpx.Response, path: str) -> bytes:
        declared = int(response.headers.get("content-length") or 0)
        if declared > self.max_response_bytes:
            raise OutputTooLarge(f"{path} answer is {declared} bytes, over {self.max_response_bytes}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise OutputTooLarge(f"{path} answer is over {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _error(self, status: int, data: bytes, path: str) -> Exception:
        try:
            err = ErrorBody.model_validate_json(data)
        except ValueError:
            err = ErrorBody(error="unknown", message=data[:200].decode("utf-8", "replace"))
        message = f"runtime at {self.where} refused {path}: {err.message}"
        if status == 401:
            return RuntimeAuthError(message)
        if status == 413:
            return OutputTooLarge(message)
        return RuntimeRequestError(message, status=status, code=err.error)


def _show(cmd: str | list[str]) -> str:
    text = cmd if isinstance(cmd, str) else " ".join(cmd)
    return repr(text if len(text) < 80 else text[:77] + "...")


class RuntimeBacked:
    """The command half of the Sandbox protocol, done through a runtime client.

    Backends (a local bubblewrap sandbox, a pod reached at its IP) supply ``client`` and may name the base
    commit that ``diff`` compares against; exec, read, write and diff are the same for all of them.
    """

    @property
    def client(self) -> RuntimeClient:
        raise NotImplementedError

    def diff_base(self) -> str | None:
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
        return await self.client.exec(
            cmd, timeout_s=timeout_s, cwd=cwd, env=env, stdin=stdin, raise_on_timeout=raise_on_timeout
        )

    async def read(self, path: str) -> bytes:
        return await self.client.read(path)

    async def write(self, path: str, content: bytes | str) -> None:
        await self.client.write(path, content)

    async def diff(self) -> bytes:
        return await self.client.diff(self.diff_base())
