"""Task models: the SWE-bench instance format plus an ``envfarm`` block, and web tasks.

A ``SweTask`` carries every SWE-bench instance key with the same name, type and meaning. FAIL_TO_PASS and
PASS_TO_PASS are held as lists; they are accepted as a list or as the JSON-encoded string the dataset hub
uses, and :func:`to_swebench` writes them back as that string. Unknown top-level keys of a public record
(SWE-bench Verified's ``difficulty``, SWE-rebench's ``meta`` ...) are kept and exported unchanged.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
)

SWEBENCH_KEYS: tuple[str, ...] = (
    "repo",
    "instance_id",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
)
TEST_LIST_KEYS = ("FAIL_TO_PASS", "PASS_TO_PASS")


class Strict(BaseModel):
    """Base for envfarm's own models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class TaskStatus(StrEnum):
    new = "new"  # ingested, not validated by envfarm
    validated = "validated"  # gold passes N/N, probes score 0
    rejected = "rejected"  # failed validation; see envfarm.validation
    retired = "retired"  # kept for history, not handed out


class InstallConfig(BaseModel):
    """How to build a task's environment: the SWE-rebench key set (unknown keys kept: a public format)."""

    model_config = ConfigDict(extra="allow")

    python: str | None = None
    packages: str | None = None
    pip_packages: list[str] = Field(default_factory=list)
    pre_install: list[str] = Field(default_factory=list)
    install: str | None = None
    post_install: list[str] = Field(default_factory=list)
    reqs_path: list[str] = Field(default_factory=list)
    env_yml_path: list[str] = Field(default_factory=list)
    env_vars: dict[str, str] = Field(default_factory=dict)
    test_cmd: str | list[str] | None = None
    log_parser: str = "parse_log_pytest"
    no_use_env: bool | None = None


class Source(Strict):
    kind: Literal["swebench", "harvest", "manual", "web"] = "swebench"
    dataset: str = ""
    url: str = ""
    pr_number: int | None = None
    issue_numbers: list[int] = Field(default_factory=list)
    statement_from: Literal["issue", "pr", "commit", "manual"] = "issue"


class EnvSpec(Strict):
    image: str = ""
    python: str = ""
    workdir: str = "/testbed"
    env_hash: str = ""


class Resources(Strict):
    cpu: float = 1.0
    memory_mb: int = 2048
    disk_mb: int = 4096
    timeout_s: int = 1800


class Validation(Strict):
    status: TaskStatus = TaskStatus.new
    runs: int = 0
    gold_passes: int = 0
    empty_patch_score: float | None = None
    flaky_tests: list[str] = Field(default_factory=list)
    reason: str = ""
    validated_at: str = ""
    verifier_version: str = ""


class Quality(Strict):
    statement_chars: int = 0
    patch_lines: int = 0
    files_changed: int = 0
    scores: dict[str, float] = Field(default_factory=dict)


class Provenance(Strict):
    pipeline_version: str = ""
    ingested_from: str = ""
    harvested_at: str = ""
    licence: str = ""


class EnvfarmBlock(Strict):
    source: Source = Field(default_factory=Source)
    env: EnvSpec = Field(default_factory=EnvSpec)
    resources: Resources = Field(default_factory=Resources)
    validation: Validation = Field(default_factory=Validation)
    quality: Quality = Field(default_factory=Quality)
    provenance: Provenance = Field(default_factory=Provenance)


class SweTask(BaseModel):
    """A code task in the SWE-bench instance format."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["swe"] = "swe"
    instance_id: str = Field(min_length=1, max_length=300)
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    base_commit: str = Field(pattern=r"^[0-9a-f]{7,40}$")
    patch: str
    test_patch: str
    problem_statement: str
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    FAIL_TO_PASS: list[str] = Field(default_factory=list)
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    install_config: InstallConfig | None = None
    envfarm: EnvfarmBlock = Field(default_factory=EnvfarmBlock)

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _decode_test_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list of test ids: {exc.msg}") from exc
        return value

    @field_validator("patch", "test_patch")
    @classmethod
    def _unified_diff(cls, value: str) -> str:
        if value and not _looks_like_unified_diff(value):
            raise ValueError("not a unified diff (no '--- '/'+++ ' file headers with '@@' hunks)")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class WebTask(Strict):
    """A web task: an app, an instruction, a browser scenario and a checklist a verifier grades."""

    kind: Literal["web"] = "web"
    instance_id: str = Field(min_length=1, max_length=300)
    app: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    scenario: list[dict[str, Any]] = Field(default_factory=list)
    checklist: list[str] = Field(default_factory=list)
    created_at: str = ""
    envfarm: EnvfarmBlock = Field(default_factory=lambda: EnvfarmBlock(source=Source(kind="web")))


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "swe"))
    return str(getattr(value, "kind", "swe"))


Task = Annotated[
    Annotated[SweTask, Tag("swe")] | Annotated[WebTask, Tag("web")],
    Discriminator(_kind_of),
]
TASK_ADAPTER: TypeAdapter[SweTask | WebTask] = TypeAdapter(Task)


def _looks_like_unified_diff(text: str) -> bool:
    if text.startswith("diff --git ") or "\ndiff --git " in text:
        return True  # git's extended headers (renames, mode changes, binary) may carry no hunk
    has_old = text.startswith("--- ") or "\n--- " in text
    return has_old and "\n+++ " in text and "\n@@ " in text


def parse_task(data: dict[str, Any]) -> SweTask | WebTask:
    """Validate one raw record (a dict from JSON, Parquet or YAML) into a task."""
    return TASK_ADAPTER.validate_python(data)


def task_to_record(task: SweTask | WebTask) -> dict[str, Any]:
    """The full envfarm record (lists as lists), as stored and as written by the jsonl format."""
    return task.model_dump(mode="json", exclude_none=True)


def to_swebench(task: SweTask) -> dict[str, Any]:
    """The SWE-bench instance: its keys in its order, test lists JSON-encoded, unknown public keys kept."""
    row: dict[str, Any] = {}
    for key in SWEBENCH_KEYS:
        value = getattr(task, key)
        row[key] = json.dumps(value) if key in TEST_LIST_KEYS else value
    if task.install_config is not None:
        row["install_config"] = task.install_config.model_dump(mode="json", exclude_none=True)
    row.update(task.model_extra or {})
    return row


def unknown_keys(task: SweTask | WebTask) -> list[str]:
    """Top-level keys that the SWE-bench format does not define (kept, but reported on ingest)."""
    return sorted((task.model_extra or {}).keys()) if isinstance(task, SweTask) else []
