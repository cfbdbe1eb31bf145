from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from envfarm.models import RolloutJob, SweTask, WebTask, parse_task, to_swebench
from envfarm.models.job import HoldAgent
from envfarm.models.task import task_to_record


def test_test_lists_accept_json_strings_and_lists(make_record: Any) -> None:
    as_string = parse_task(make_record())
    as_list = parse_task(make_record(FAIL_TO_PASS=["tests/test_ops.py::test_add"], PASS_TO_PASS=[]))
    assert isinstance(as_string, SweTask) and isinstance(as_list, SweTask)
    assert as_string.FAIL_TO_PASS == as_list.FAIL_TO_PASS == ["tests/test_ops.py::test_add"]


def test_swebench_export_writes_json_strings_and_lists_in_records(make_record: Any) -> None:
    task = parse_task(make_record())
    assert isinstance(task, SweTask)
    row = to_swebench(task)
    assert row["FAIL_TO_PASS"] == json.dumps(["tests/test_ops.py::test_add"])
    assert task_to_record(task)["FAIL_TO_PASS"] == ["tests/test_ops.py::test_add"]
    assert "envfarm" not in row and "kind" not in row


def test_kind_discriminates_web_tasks() -> None:
    task = parse_task({"kind": "web", "instance_id": "todo-1", "app": "todo", "instruction": "add an item"})
    assert isinstance(task, WebTask)
    with pytest.raises(ValidationError):
        parse_task({"kind": "web", "instance_id": "todo-1", "app": "todo", "instruction": "x", "bogus": 1})


def test_unknown_public_keys_are_kept_and_exported(make_record: Any) -> None:
    task = parse_task(make_record(difficulty="15 min - 1 hour"))
    assert isinstance(task, SweTask)
    assert to_swebench(task)["difficulty"] == "15 min - 1 hour"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repo", "not a repo"),
        ("base_commit", "xyz"),
        ("patch", "just some text, not a diff"),
        ("FAIL_TO_PASS", "[not json"),
        ("instance_id", ""),
    ],
)
def test_bad_fields_are_refused(make_record: Any, field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_task(make_record(**{field: value}))
    assert info.value.errors()[0]["loc"][-1] == field


def test_envfarm_block_forbids_unknown_keys(make_record: Any) -> None:
    with pytest.raises(ValidationError):
        parse_task(make_record(envfarm={"source": {"kind": "swebench", "oops": 1}}))


def test_rollout_job_model_defaults_and_agent_union() -> None:
    job = RolloutJob.model_validate({"name": "hold-10k", "spec": {"agent": {"kind": "hold", "seconds": 5}}})
    assert isinstance(job.spec.agent, HoldAgent)
    with pytest.raises(ValidationError):
        RolloutJob.model_validate({"name": "Bad_Name"})
