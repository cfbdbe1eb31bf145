"""The ``policy`` agent runner: an LLM agent episode in the env the controller brought up, graded in a
FRESH env, recorded in the record store.

For each sample whose env is up, :class:`PolicyRunner`

1. resets the workspace (an env adopted after a controller restart may have been touched),
2. runs the agent loop of envfarm.agent with the job's policy against the env's runtime,
3. grades the episode's patch with the test verifier in a fresh env of the same task from the backend's
   :data:`FreshEnvs` (locally a new bubblewrap env, on Kubernetes a verification pod): the same verifier
   path as :class:`~envfarm.farm.agents.ReplayRunner`, never the env the agent touched,
4. stages the record and stores its group whole once all G samples are in
   (:class:`~envfarm.farm.policyrecords.GroupRecords`).

What fails for infrastructure reasons (the env lost, the policy endpoint down, the verification env not
coming up, the record store unwritable) is raised as SandboxError/OSError/TimeoutError: the controller
books an infrastructure failure and re-dispatches the sample, never a reward of 0. A job that cannot run
at all (no API key, no script, an unknown task) ends its samples as ``infra_error`` naming the field.
The API key comes from ``api_key_env`` or from the Secret ``api_key_secret`` names (read by the backend's
:data:`SecretReader`); it goes to the policy's Authorization header only, never to a record, log or status.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from envfarm.agent import prompts
from envfarm.agent.loop import Agent, AgentLimits
from envfarm.agent.policy import Policy
from envfarm.agent.recording import build_record, group_id, with_verdict
from envfarm.errors import ConfigError, EnvfarmError, InputError, PolicyError, SandboxError
from envfarm.farm.agents import RESET, AgentRunner, EnvHandle, ReplayRunner, builtin_runners
from envfarm.farm.local import EnvProvider
from envfarm.farm.policypool import PolicyPool, SecretReader
from envfarm.farm.policyrecords import GroupRecords
from envfarm.farm.tasks import TaskSource
from envfarm.models.job import PolicyAgent, SampleResult
from envfarm.models.rollout import RolloutRecord
from envfarm.models.task import SweTask
from envfarm.models.verdict import Outcome, Verdict
from envfarm.settings import Settings
from envfarm.verify.tests import TestVerifier

log = logging.getLogger(__name__)
FreshEnvs = Callable[[EnvHandle], EnvProvider]  # a provider of fresh envs of the handle's job and task
NOTE = "record {rollout_id} in {db}"


class PolicyRunner:
    """The :class:`~envfarm.farm.agents.AgentRunner` of ``agent.kind: policy``."""

    def __init__(
        self,
        tasks: TaskSource,
        settings: Settings,
        fresh: FreshEnvs,
        *,
        secrets: SecretReader | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.tasks, self.settings, self.fresh = tasks, settings, fresh
        self.records = GroupRecords(settings)
        self.policies = PolicyPool(secrets=secrets, environ=os.environ if environ is None else environ)

    async def run(self, env: EnvHandle) -> SampleResult:
        try:
            agent, task = self._agent(env), self.tasks.get(env.task_id)
            record = await self._rollout(env, agent, task)
        except (SandboxError, PolicyError):  # the controller retries, then counts them by reason
            raise
        except (ConfigError, InputError) as exc:  # the job cannot run: retrying would not help
            log.warning("job %s sample %d cannot run: %s", env.job, env.sample, exc)
            reason = f"job configuration: {exc}"[:300]
            return SampleResult(task_id=env.task_id, sample=env.sample, outcome="infra_error", reason=reason)
        except EnvfarmError as exc:  # the record store, the cluster's API: worth another dispatch
            raise OSError(f"{type(exc).__name__}: {exc}") from exc
        verdict = record.verdict
        assert verdict is not None
        note = NOTE.format(rollout_id=record.rollout_id, db=self.records.db)
        return SampleResult(
            task_id=env.task_id,
            sample=env.sample,
            outcome=verdict.outcome.value,
            reward=verdict.reward,
            reason=f"{note}: {verdict.reason}"[:300],
        )

    async def give_up(self, job: str, task_id: str, reason: str) -> None:
        """A sample of the task's group ended as an infrastructure error: the group is dropped."""
        _, name = _split(job)
        await self.records.drop(name, task_id, reason)

    async def aclose(self) -> None:
        await self.policies.aclose()
        self.records.close()

    @staticmethod
    def _agent(env: EnvHandle) -> PolicyAgent:
        agent = env.spec.agent
        if not isinstance(agent, PolicyAgent):
            raise ConfigError(f"job {env.job}: spec.agent.kind is {agent.kind!r}, not 'policy'")
        return agent

    async def _rollout(self, env: EnvHandle, agent: PolicyAgent, task: SweTask) -> RolloutRecord:
        namespace, name = _split(env.job)
        async with self.policies.use(env.job, namespace, agent) as policy:
            record = await self._episode(env, name, agent, task, policy)
        t0 = time.monotonic()
        verdict = await self._verify(env, task, record.patch)
        record = with_verdict(record, verdict, time.monotonic() - t0, env.attempt + 1)
        await self.records.add(record, env.spec.group_size)
        return record

    async def _episode(
        self, env: EnvHandle, job: str, agent: PolicyAgent, task: SweTask, policy: Policy
    ) -> RolloutRecord:
        started = time.monotonic()
        reset = await env.sandbox.exec(RESET, timeout_s=120)
        if reset.exit_code != 0:
            raise SandboxError(f"resetting the workspace failed: {reset.stderr[-300:]}")
        workdir = task.envfarm.env.workdir or "/testbed"
        messages = prompts.first_messages(
            task, workdir=workdir, template=agent.prompt_template, system=agent.system_prompt
        )
        # a PolicyError (the endpoint is down or refused) reaches the controller as an infra failure
        episode = await Agent(env.sandbox, policy, AgentLimits.of(agent), workdir=workdir).run(messages)
        return build_record(
            job=job,
            task_id=task.instance_id,
            group=group_id(job, task.instance_id),
            sample_idx=env.sample,
            episode=episode,
            policy_version=policy.version,
            total_s=time.monotonic() - started,
        )

    async def _verify(self, env: EnvHandle, task: SweTask, patch: str) -> Verdict:
        """The verdict from fresh envs; verification failing for infrastructure reasons every time
        (``retries`` + 1) is raised as an infrastructure failure."""
        verifier = TestVerifier(self.fresh(env), self.settings.artifacts_dir, ReplayRunner.options(env.spec))
        reasons: list[str] = []
        for _ in range(env.spec.retries + 1):
            verdict = await verifier.verify(task, patch)
            if verdict.outcome is not Outcome.infra_error:
                return verdict
            reasons.append(verdict.reason)
            log.warning("job %s sample %d: verification infra_error: %s", env.job, env.sample, verdict.reason)
        raise SandboxError(f"verification kept failing: {reasons[-1]}")


def _split(key: str) -> tuple[str, str]:
    """(namespace, name) of a job key ``namespace/name`` (local jobs: an empty namespace)."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def record_of(reason: str) -> tuple[str, str] | None:
    """(rollout_id, record store path) from a policy sample's result reason, None when it has none."""
    head, sep, _ = reason.partition(": ")
    words = head.split(" ")
    if not sep or len(words) != 4 or words[0] != "record" or words[2] != "in":
        return None
    return words[1], words[3]


def farm_runners(
    tasks: TaskSource,
    settings: Settings,
    fresh: FreshEnvs,
    *,
    secrets: SecretReader | None = None,
) -> dict[str, AgentRunner]:
    """Every runner the controller knows: hold, replay and policy."""
    runners = builtin_runners(tasks, settings.artifacts_dir)
    runners["policy"] = PolicyRunner(tasks, settings, fresh, secrets=secrets)
    return runners


async def close_runners(runners: Mapping[str, AgentRunner]) -> None:
    """Close what the runners hold (the policy runner's policies and record store)."""
    for runner in runners.values():
        if isinstance(runner, PolicyRunner):
            await runner.aclose()
