"""The rollout record store: whole groups, dropped groups, replace on re-run, follow, JSONL and Parquet."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from envfarm.errors import NotFoundError, StoreError
from envfarm.models.rollout import RolloutGroup, RolloutRecord, StopReason, ToolCall, Turn
from envfarm.models.verdict import Outcome, Verdict
from envfarm.settings import Settings
from envfarm.store.records import RecordStore


def record(group: str, i: int, reward: float = 1.0) -> RolloutRecord:
    return RolloutRecord(
        rollout_id=f"{group}.{i}",
        job="j",
        task_id=group.split(".", 1)[1],
        group_id=group,
        sample_idx=i,
        prompt_token_ids=[1, 2, 3],
        response_token_ids=[10, 11, 20, 12],
        loss_mask=[1, 1, 0, 1],
        rollout_logprobs=[-0.123456789012, -1e-9, 0.0, -9999.0],
        policy_version="v1",
        turns=[
            Turn(role="user", content="fix"),
            Turn(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="c", name="bash", arguments='{"command":"ls"}')],
            ),
            Turn(role="tool", content="ok", tool_name="bash", tool_call_id="c", exit_code=0),
        ],
        patch="diff --git a/x b/x\n",
        stop_reason=StopReason.submitted,
        verdict=Verdict(task_id="t", outcome=Outcome.passed if reward else Outcome.failed, reward=reward),
        steps=1,
    )


def group(task: str, n: int = 2) -> RolloutGroup:
    gid = f"j.{task}"
    return RolloutGroup(
        group_id=gid, task_id=task, job="j", records=[record(gid, i, float(i % 2)) for i in range(n)]
    )


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore.open(Settings.from_env(tmp_path / "home"))


def test_a_group_round_trips_with_its_trajectories(store: RecordStore, tmp_path: Path) -> None:
    g = group("t1")
    store.put_group(g)
    assert store.get("j.t1.0") == g.records[0]
    assert store.group("j.t1") == g
    assert store.counts("j") == {"complete": 1, "dropped": 0}
    path = tmp_path / "home" / "artifacts" / "rollouts" / "j" / "j.t1.1.json"
    assert json.loads(path.read_text())["turns"][1]["tool_calls"][0]["name"] == "bash"
    row = store._conn.execute("SELECT record FROM rollouts WHERE rollout_id = 'j.t1.1'").fetchone()
    assert "turns" not in json.loads(row[0])  # trajectories live in the artifact files only


def test_dropped_groups_are_counted_without_records(store: RecordStore) -> None:
    store.put_group(group("t1"))
    store.drop_group(job="j", group_id="j.t2", task_id="t2", reason="sample 1 failed 3 times")
    assert store.counts("j") == {"complete": 1, "dropped": 1}
    [row] = store.groups(job="j", status="dropped")
    assert row.reason == "sample 1 failed 3 times" and row.size == 0
    assert [r.rollout_id for r in store.records(job="j")] == ["j.t1.0", "j.t1.1"]


def test_a_rerun_replaces_the_group(store: RecordStore) -> None:
    store.put_group(group("t1", 3))
    store.put_group(group("t1", 2))
    assert [r.sample_idx for r in store.records(job="j")] == [0, 1]
    store.drop_group(job="j", group_id="j.t1", task_id="t1", reason="later run dropped it")
    assert list(store.records()) == [] and store.counts() == {"complete": 0, "dropped": 1}


def test_missing_things_are_clear_errors(store: RecordStore, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no rollout 'x'"):
        store.get("x")
    with pytest.raises(NotFoundError, match="no group"):
        store.group("x")
    store.put_group(group("t1"))
    (tmp_path / "home" / "artifacts" / "rollouts" / "j" / "j.t1.0.json").unlink()
    with pytest.raises(StoreError, match=r"rollout j.t1.0: trajectory file .* is unreadable"):
        store.get("j.t1.0")


def test_exports_keep_tokens_and_logprobs_exactly(store: RecordStore, tmp_path: Path) -> None:
    for task in ("t1", "t2"):
        store.put_group(group(task))
    assert store.export_jsonl(tmp_path / "r.jsonl", job="j") == 4
    lines = [RolloutRecord.model_validate_json(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert lines == list(store.records(job="j"))
    assert store.export_parquet(tmp_path / "r.parquet", batch=3) == 4
    rows = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert [r["rollout_id"] for r in rows] == ["j.t1.0", "j.t1.1", "j.t2.0", "j.t2.1"]
    first = rows[0]
    assert first["rollout_logprobs"] == [-0.123456789012, -1e-9, 0.0, -9999.0]
    assert first["loss_mask"] == [1, 1, 0, 1] and first["response_token_ids"] == [10, 11, 20, 12]
    assert first["outcome"] == "fail" and first["reward"] == 0.0 and rows[1]["reward"] == 1.0
    assert json.loads(first["turns"])[2]["exit_code"] == 0
    assert not list(tmp_path.glob("*.tmp"))


async def test_follow_streams_complete_groups_in_order(store: RecordStore, tmp_path: Path) -> None:
    reader = RecordStore.open(Settings.from_env(tmp_path / "home"))
    store.put_group(group("t1"))
    store.drop_group(job="j", group_id="j.t2", task_id="t2", reason="x")
    seen: list[str] = []

    async def read() -> None:
        async for g in reader.follow("j", poll_s=0.01):
            seen.append(g.group_id)
            if len(seen) == 2:
                return

    waiting = asyncio.create_task(read())
    await asyncio.sleep(0.05)
    store.put_group(group("t3"))
    await asyncio.wait_for(waiting, 5)
    assert seen == ["j.t1", "j.t3"]
    reader.close()
