"""The policies of the jobs the controller runs: one per job, shared by its samples, closed when idle.

One policy instance per job holds the endpoint's connection pool and its concurrency limit
(``agent.max_concurrency``), so every sample of the job shares them. A job whose agent block changed gets
a new policy; the old one is closed once no sample uses it. Idle policies beyond ``keep`` are closed.

The API key: ``api_key_secret`` is read through the backend's :data:`SecretReader` (on Kubernetes, the
Secret in the job's namespace) and handed to the policy as the variable ``api_key_env`` names (or
:data:`SECRET_VAR`), in a mapping of its own: the process environment is not changed and the key is
never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from envfarm.agent.policies import build_policy
from envfarm.agent.policy import Policy
from envfarm.errors import ConfigError
from envfarm.models.job import PolicyAgent, SecretRef

log = logging.getLogger(__name__)
SecretReader = Callable[[str, SecretRef], Awaitable[str]]  # (namespace, ref) -> the secret's value
SECRET_VAR = "ENVFARM_POLICY_API_KEY"


@dataclass
class _Held:
    policy: Policy
    fingerprint: str
    users: int = 0


class PolicyPool:
    def __init__(self, *, secrets: SecretReader | None, environ: Mapping[str, str], keep: int = 32) -> None:
        self.secrets, self.environ, self.keep = secrets, environ, keep
        self.held: dict[str, _Held] = {}  # job key -> its current policy
        self.retired: list[_Held] = []
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def use(self, job: str, namespace: str, agent: PolicyAgent) -> AsyncIterator[Policy]:
        """The job's policy for one rollout."""
        async with self._lock:
            held = await self._get(job, namespace, agent)
            held.users += 1
        await self._trim()  # a policy this one replaced may be idle already
        try:
            yield held.policy
        finally:
            held.users -= 1
            await self._trim()

    async def _get(self, job: str, namespace: str, agent: PolicyAgent) -> _Held:
        fingerprint = agent.model_dump_json()
        held = self.held.get(job)
        if held is not None and held.fingerprint == fingerprint:
            self.held[job] = self.held.pop(job)  # most recently used last
            return held
        if held is not None:
            self.retired.append(self.held.pop(job))
        agent, environ = await self._with_key(namespace, agent)
        self.held[job] = _Held(build_policy(agent, environ=environ), fingerprint)
        return self.held[job]

    async def _with_key(self, namespace: str, agent: PolicyAgent) -> tuple[PolicyAgent, Mapping[str, str]]:
        ref = agent.api_key_secret
        if ref is None:
            return agent, self.environ
        if self.secrets is None:
            raise ConfigError(
                f"agent.api_key_secret: Secret {ref.name} is read on a cluster; here use agent.api_key_env"
            )
        key = await self.secrets(namespace, ref)
        var = agent.api_key_env or SECRET_VAR
        return agent.model_copy(update={"api_key_env": var}), {**self.environ, var: key}

    async def _trim(self) -> None:
        idle = [h for h in self.retired if h.users == 0]
        self.retired = [h for h in self.retired if h.users > 0]
        extra = len(self.held) - self.keep
        for job, held in list(self.held.items()):
            if extra <= 0:
                break
            if held.users == 0:
                idle.append(self.held.pop(job))
                extra -= 1
        for held in idle:
            await _close(held.policy)

    async def aclose(self) -> None:
        for held in [*self.held.values(), *self.retired]:
            await _close(held.policy)
        self.held.clear()
        self.retired.clear()


async def _close(policy: Policy) -> None:
    try:
        await policy.aclose()
    except Exception as exc:  # closing must never fail a rollout
        log.warning("closing a policy failed: %s", exc)
