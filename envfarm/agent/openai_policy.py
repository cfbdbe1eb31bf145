"""A policy behind an OpenAI-compatible chat-completions endpoint (vLLM's server, or any other), over httpx.

One instance per endpoint: it holds the connection pool and the endpoint's concurrency limit, shared by
every rollout of a job. Connection failures, 408/409/429 and 5xx answers are retried with exponential
back-off (``Retry-After`` honoured) and then raise PolicyUnavailable; a context-length 400 raises
ContextLengthExceeded; any other refusal raises PolicyError. The API key goes only into the
``Authorization`` header: never into a log line, an error message or a record.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

from envfarm.agent import chat_wire
from envfarm.agent.policy import Completion, Message
from envfarm.errors import ConfigError, ContextLengthExceeded, PolicyError, PolicyUnavailable
from envfarm.models.job import PolicyAgent

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 30.0


class OpenAIPolicy:
    def __init__(
        self,
        agent: PolicyAgent,
        *,
        api_key: str | None = None,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not agent.endpoint:
            raise ConfigError("agent.endpoint: an OpenAI-compatible policy needs the endpoint's base URL")
        self.agent = agent
        self.url = agent.endpoint.rstrip("/") + "/chat/completions"
        self.backoff_s = backoff_s
        self.gate = asyncio.Semaphore(agent.max_concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(
            max_connections=agent.max_concurrency, max_keepalive_connections=agent.max_concurrency
        )
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(agent.request_timeout_s, connect=10.0),
            limits=limits,
            transport=transport,
        )

    @property
    def version(self) -> str:
        return self.agent.policy_version or self.agent.model

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]], *, max_tokens: int | None = None
    ) -> Completion:
        body = chat_wire.request_body(self.agent, messages, tools, max_tokens)
        async with self.gate:
            data = await self._post(body)
        return chat_wire.parse_response(data)

    async def _post(self, body: dict[str, Any]) -> Any:
        attempts = self.agent.request_retries + 1
        for attempt in range(attempts):
            try:
                response = await self._http.post(self.url, json=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                wait = self._backoff(attempt, None)
            else:
                if response.status_code == 200:
                    return _json(response, self.url)
                problem = self._refusal(response)
                wait = self._backoff(attempt, response.headers.get("retry-after"))
            if attempt + 1 < attempts:
                log.info("policy %s: %s; retry %d in %.2fs", self.url, problem, attempt + 1, wait)
                await asyncio.sleep(wait)
        raise PolicyUnavailable(f"policy endpoint {self.url} failed {attempts} times; last: {problem}")

    def _refusal(self, response: httpx.Response) -> str:
        """The problem of a non-200 answer that may be retried; raises for the others."""
        status, message = response.status_code, chat_wire.error_message(response.content)
        if chat_wire.is_context_error(status, message):
            raise ContextLengthExceeded(f"policy endpoint {self.url}: {message}")
        if status not in RETRY_STATUS:
            raise PolicyError(f"policy endpoint {self.url} refused the request ({status}): {message}")
        return f"HTTP {status}: {message}"

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), MAX_BACKOFF_S)
            except ValueError:
                pass
        base = self.backoff_s * 2**attempt
        return float(min(base + random.uniform(0, base / 2), MAX_BACKOFF_S))


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise PolicyError(f"policy endpoint {url} answered 200 with a body that is not JSON") from exc
