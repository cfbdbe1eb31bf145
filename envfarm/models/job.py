"""RolloutJob: a batch of rollouts. The same model backs the Kubernetes custom resource."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from envfarm.models.task import Strict


class TaskSelector(Strict):
    ids: list[str] = Field(default_factory=list)
    repo: str = ""
    status: str = ""
    text: str = ""
    limit: int | None = Field(default=None, ge=1)


class EnvResources(Strict):
    cpu: str = "1"
    memory: str = "2Gi"


class ReplayAgent(Strict):
    kind: Literal["replay"] = "replay"
    patches: Literal["gold", "empty", "file"] = "gold"
    patch_file: str = ""


class HoldAgent(Strict):
    kind: Literal["hold"] = "hold"
    seconds: float = Field(default=60.0, ge=0)


class SecretRef(Strict):
    """A Kubernetes Secret key (``name``/``key``); the controller exposes it to the driver as a variable."""

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class PolicyAgent(Strict):
    """An agent driven by a policy. The API key is never a field: only where to find it."""

    kind: Literal["policy"] = "policy"
    backend: Literal["openai", "hf", "scripted"] = "openai"
    endpoint: str = ""  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1
    model: str = ""  # served model name; hf: "smollm2", "tiny-gpt2" or a local folder
    api_key_env: str = ""  # name of the environment variable that holds the key
    api_key_secret: SecretRef | None = None
    script: str = ""  # scripted backend: a YAML file of tool calls
    policy_version: str = ""
    # sampling
    temperature: float = Field(default=1.0, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = None
    logprobs: bool = True  # ask for sampled token ids and their log-probabilities (vLLM)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # limits
    max_steps: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=32768, ge=1)  # tokens the policy may generate in one rollout
    max_tokens_per_turn: int | None = Field(default=None, ge=1)
    wall_time_s: float = Field(default=1800.0, gt=0)
    command_timeout_s: float = Field(default=120.0, gt=0)
    max_observation_chars: int = Field(default=16000, ge=200)
    group_timeout_s: float | None = Field(default=None, gt=0)
    # transport
    request_timeout_s: float = Field(default=600.0, gt=0)
    request_retries: int = Field(default=3, ge=0)
    max_concurrency: int = Field(default=64, ge=1)  # requests in flight per endpoint
    # prompts: "" uses the task kind's template; else a template with {problem_statement}-style fields
    prompt_template: str = ""
    system_prompt: str = ""


Agent = Annotated[ReplayAgent | HoldAgent | PolicyAgent, Field(discriminator="kind")]


class VerifierSpec(Strict):
    kind: Literal["tests", "web"] = "tests"
    reruns: int = Field(default=1, ge=1)
    partial_credit: bool = False
    timeout_s: int = Field(default=1800, ge=1)


class RolloutJobSpec(Strict):
    tasks: TaskSelector = Field(default_factory=TaskSelector)
    group_size: int = Field(default=1, ge=1)
    concurrency: int = Field(default=8, ge=1)
    resources: EnvResources = Field(default_factory=EnvResources)
    image: str = ""  # the env image for every task; "" uses the task's envfarm.env.image, then image_default
    image_default: str = "python:3.11-slim"  # the image of tasks that name none
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    timeout_s: int = Field(default=3600, ge=1)
    setup_timeout_s: int = Field(default=600, ge=1)  # an env not ready by then is an infra failure (deadline)
    env_deadline_s: int = Field(default=7200, ge=1)  # the env pod's activeDeadlineSeconds
    retries: int = Field(default=2, ge=0)  # infrastructure retries per sample
    retry_backoff_s: float = Field(default=5.0, ge=0)  # first retry's wait, doubled per retry (max 300 s)
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    suspend: bool = False  # true: no new envs (cancel sets it)
    verifier: VerifierSpec = Field(default_factory=VerifierSpec)
    agent: Agent = Field(default_factory=ReplayAgent)


class JobPhase(StrEnum):
    pending = "Pending"
    running = "Running"
    succeeded = "Succeeded"
    failed = "Failed"
    cancelled = "Cancelled"


class JobCounts(Strict):
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    infra_errors: int = 0


class InfraReason(StrEnum):
    """Why an environment did not come up or was lost: never the task's fault."""

    image_pull = "image_pull"
    unschedulable = "unschedulable"
    oom = "oom"
    runtime_unreachable = "runtime_unreachable"
    evicted = "evicted"
    deadline = "deadline"
    policy_unavailable = "policy_unavailable"  # the policy endpoint was down or refused


class Condition(Strict):
    """A Kubernetes-style condition (type, status, reason, message, lastTransitionTime)."""

    type: str
    status: Literal["True", "False", "Unknown"] = "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""


class SampleResult(Strict):
    """One finished sample: a task's rollout ``sample`` (0..group_size-1) and its verdict summary."""

    task_id: str
    sample: int = Field(default=0, ge=0)
    outcome: str  # a verdict outcome (pass, fail, ...), "held" for hold jobs, "infra_error"
    reward: float | None = None
    reason: str = ""


class SetupStats(Strict):
    """Environments attempted (pods that ended up or failed) and environments that came up."""

    attempted: int = 0
    up: int = 0


RESULTS_IN_STATUS = 100


class RolloutJobStatus(Strict):
    phase: JobPhase = JobPhase.pending
    counts: JobCounts = Field(default_factory=JobCounts)
    total: int = 0  # samples: tasks x group_size
    setup: SetupStats = Field(default_factory=SetupStats)
    setup_yield: float | None = None  # setup.up / setup.attempted
    infra_failures: dict[str, int] = Field(default_factory=dict)  # InfraReason -> failed env attempts
    done: str = ""  # finished samples as index ranges ("0-99,120"): never recreated after a restart
    retries: dict[str, int] = Field(
        default_factory=dict
    )  # sample index -> infra failures so far (unfinished)
    # finished samples by outcome ("pass", "fail", "infra_error", ...; "held" is what done leaves over), as
    # index ranges; every sample's detail (task, reward, reason) is in the job's result log
    outcomes: dict[str, str] = Field(default_factory=dict)
    # the detail of the first samples (index < RESULTS_IN_STATUS: a small job's all), so that
    # `kubectl get rolloutjob -o yaml` shows them; bounded, so the status stays small at any job size
    results: list[SampleResult] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    start_time: str = ""
    completion_time: str = ""
    message: str = ""
    observed_generation: int = 0


class RolloutJob(Strict):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    namespace: str = "default"
    spec: RolloutJobSpec = Field(default_factory=RolloutJobSpec)
    status: RolloutJobStatus = Field(default_factory=RolloutJobStatus)
