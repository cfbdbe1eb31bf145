"""Pydantic wire models: tasks, verdicts, rollouts and jobs. No I/O here."""

from envfarm.models.job import RolloutJob, RolloutJobSpec, RolloutJobStatus
from envfarm.models.rollout import RolloutGroup, RolloutRecord, StopReason
from envfarm.models.task import (
    InstallConfig,
    SweTask,
    Task,
    TaskStatus,
    WebTask,
    parse_task,
    task_to_record,
    to_swebench,
)
from envfarm.models.verdict import Outcome, Verdict

__all__ = [
    "InstallConfig",
    "Outcome",
    "RolloutGroup",
    "RolloutJob",
    "RolloutJobSpec",
    "RolloutJobStatus",
    "RolloutRecord",
    "StopReason",
    "SweTask",
    "Task",
    "TaskStatus",
    "Verdict",
    "WebTask",
    "parse_task",
    "task_to_record",
    "to_swebench",
]
