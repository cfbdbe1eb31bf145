"""The rollout record store: SQLite (WAL) rows plus one trajectory file per rollout; JSONL/Parquet export.

A group is written whole or not at all: its trajectory files first (atomically, under
``artifacts_dir/rollouts/<job>/``), then its rows in one transaction. A dropped group is kept as a row
with its reason and no records, so it is counted and never trained on. Records are keyed by rollout_id:
writing the same ids again (a re-run job) replaces them. ``follow`` streams complete groups to a reader
in another process (a trainer), in the order they were stored.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from envfarm.errors import NotFoundError, StoreError
from envfarm.models.rollout import RolloutGroup, RolloutRecord, Turn
from envfarm.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollout_groups (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT NOT NULL UNIQUE,
    job TEXT NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_groups_job ON rollout_groups(job, seq);
CREATE TABLE IF NOT EXISTS rollouts (
    rollout_id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    job TEXT NOT NULL,
    task_id TEXT NOT NULL,
    sample_idx INTEGER NOT NULL,
    outcome TEXT,
    reward REAL,
    stop_reason TEXT NOT NULL,
    trajectory TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_group ON rollouts(group_id, sample_idx);
CREATE INDEX IF NOT EXISTS rollouts_task ON rollouts(task_id);
"""
COMPLETE, DROPPED = "complete", "dropped"


@dataclass(frozen=True)
class GroupRow:
    seq: int
    group_id: str
    job: str
    task_id: str
    status: str
    reason: str
    size: int
    created_at: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordStore:
    """``RecordStore.open(settings)``; safe to read from another process while a driver writes."""

    def __init__(self, db: Path, artifacts: Path) -> None:
        self.db, self.artifacts = db, artifacts
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(db, isolation_level=None, timeout=30.0, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the record store at {db}: {exc}") from exc

    @classmethod
    def open(cls, settings: Settings) -> RecordStore:
        return cls(settings.home / "rollouts.db", settings.artifacts_dir)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def put_group(self, group: RolloutGroup) -> None:
        paths = [self._write_trajectory(r) for r in group.records]
        rows = [_row(r, p) for r, p in zip(group.records, paths, strict=True)]
        with self._transaction():
            self._replace_group(group.group_id, group.job, group.task_id, COMPLETE, "", len(rows))
            self._conn.executemany(
                "INSERT OR REPLACE INTO rollouts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def drop_group(self, *, job: str, group_id: str, task_id: str, reason: str) -> None:
        with self._transaction():
            self._replace_group(group_id, job, task_id, DROPPED, reason, 0)

    def _replace_group(self, gid: str, job: str, task_id: str, status: str, reason: str, size: int) -> None:
        self._conn.execute("DELETE FROM rollouts WHERE group_id = ?", (gid,))
        self._conn.execute("DELETE FROM rollout_groups WHERE group_id = ?", (gid,))
        self._conn.execute(
            "INSERT INTO rollout_groups (group_id, job, task_id, status, reason, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (gid, job, task_id, status, reason, size, _now()),
        )

    def _write_trajectory(self, record: RolloutRecord) -> str:
        rel = Path("rollouts") / (record.job or "_") / f"{record.rollout_id}.json"
        path = self.artifacts / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        turns = [t.model_dump(mode="json") for t in record.turns]
        tmp.write_text(json.dumps({"rollout_id": record.rollout_id, "turns": turns}), encoding="utf-8")
        os.replace(tmp, path)
        return str(rel)

    def _transaction(self) -> _Tx:
        return _Tx(self._conn, self.db)

    # ------------------------------------------------------------------ reading

    def get(self, rollout_id: str) -> RolloutRecord:
        row = self._conn.execute(
            "SELECT record, trajectory FROM rollouts WHERE rollout_id = ?", (rollout_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id!r} in {self.db}")
        return self._record(row[0], row[1])

    def group(self, group_id: str) -> RolloutGroup:
        found = self.groups(group_id=group_id)
        if not found:
            raise NotFoundError(f"no group {group_id!r} in {self.db}")
        return self._group(found[0])

    def groups(
        self, *, job: str = "", status: str = "", group_id: str = "", after: int = 0
    ) -> list[GroupRow]:
        clauses: list[str] = ["seq > ?"]
        args: list[Any] = [after]
        for column, value in (("job", job), ("status", status), ("group_id", group_id)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT * FROM rollout_groups WHERE {' AND '.join(clauses)} ORDER BY seq"
        return [GroupRow(*row) for row in self._conn.execute(sql, args)]

    def records(self, *, job: str = "", task_id: str = "") -> Iterator[RolloutRecord]:
        clauses, args = ["1 = 1"], []
        for column, value in (("job", job), ("task_id", task_id)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = " AND ".join(clauses)
        sql = f"SELECT record, trajectory FROM rollouts WHERE {where} ORDER BY group_id, sample_idx"
        for record, trajectory in self._conn.execute(sql, args).fetchall():
            yield self._record(record, trajectory)

    def counts(self, job: str = "") -> dict[str, int]:
        where, args = ("WHERE job = ?", [job]) if job else ("", [])
        sql = f"SELECT status, COUNT(*) FROM rollout_groups {where} GROUP BY status"
        found = dict(self._conn.execute(sql, args).fetchall())
        return {COMPLETE: found.get(COMPLETE, 0), DROPPED: found.get(DROPPED, 0)}

    async def follow(self, job: str, *, after: int = 0, poll_s: float = 0.5) -> AsyncIterator[RolloutGroup]:
        """Complete groups of ``job`` as they are stored (forever; the reader stops iterating)."""
        while True:
            for row in await asyncio.to_thread(self.groups, job=job, status=COMPLETE, after=after):
                after = row.seq
                yield self._group(row)
            await asyncio.sleep(poll_s)

    def _group(self, row: GroupRow) -> RolloutGroup:
        sql = "SELECT record, trajectory FROM rollouts WHERE group_id = ? ORDER BY sample_idx"
        rows = self._conn.execute(sql, (row.group_id,)).fetchall()
        records = [self._record(r, t) for r, t in rows]
        return RolloutGroup(group_id=row.group_id, task_id=row.task_id, job=row.job, records=records)

    def _record(self, record_json: str, trajectory: str) -> RolloutRecord:
        record = RolloutRecord.model_validate_json(record_json)
        path = self.artifacts / trajectory
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"rollout {record.rollout_id}: trajectory file {path} is unreadable: {exc}"
            ) from exc
        record.turns = [Turn.model_validate(t) for t in data.get("turns", [])]
        return record

    def trajectory_path(self, rollout_id: str) -> Path:
        row = self._conn.execute(
            "SELECT trajectory FROM rollouts WHERE rollout_id = ?", (rollout_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id!r} in {self.db}")
        return self.artifacts / str(row[0])

    # ------------------------------------------------------------------ export

    def export_jsonl(self, path: Path, *, job: str = "") -> int:
        """Every record of ``job`` (all jobs when empty), one JSON object a line; returns the count."""
        tmp = path.with_name(path.name + ".tmp")
        count = 0
        with tmp.open("w", encoding="utf-8") as out:
            for record in self.records(job=job):
                out.write(record.model_dump_json() + "\n")
                count += 1
        os.replace(tmp, path)
        return count

    def export_parquet(self, path: Path, *, job: str = "", batch: int = 512) -> int:
        """The same records as Parquet: token lists as list columns, nested parts as JSON text."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tmp, count, schema = path.with_name(path.name + ".tmp"), 0, _parquet_schema()
        with pq.ParquetWriter(tmp, schema) as writer:
            rows: list[dict[str, Any]] = []
            for record in self.records(job=job):
                rows.append(_parquet_row(record))
                if len(rows) == batch:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    count, rows = count + len(rows), []
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                count += len(rows)
        os.replace(tmp, path)
        return count


class _Tx:
    def __init__(self, conn: sqlite3.Connection, db: Path) -> None:
        self.conn, self.db = conn, db

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
            return
        self.conn.execute("ROLLBACK")


def _row(record: RolloutRecord, trajectory: str) -> tuple[Any, ...]:
    verdict = record.verdict
    return (
        record.rollout_id,
        record.group_id,
        record.job,
        record.task_id,
        record.sample_idx,
        verdict.outcome.value if verdict else None,
        verdict.reward if verdict else None,
        record.stop_reason.value,
        trajectory,
        record.model_dump_json(exclude={"turns"}),
    )


@functools.cache
def _parquet_schema() -> Any:
    import pyarrow as pa

    text, integer = pa.string(), pa.int64()
    return pa.schema(
        [
            *[(name, text) for name in ("rollout_id", "job", "task_id", "group_id")],
            ("sample_idx", integer),
            ("prompt_token_ids", pa.list_(integer)),
            ("response_token_ids", pa.list_(integer)),
            ("loss_mask", pa.list_(pa.int8())),
            ("rollout_logprobs", pa.list_(pa.float64())),
            *[(name, text) for name in ("policy_version", "stop_reason", "outcome")],
            ("truncated", pa.bool_()),
            ("reward", pa.float64()),
            ("steps", integer),
            ("attempts", integer),
            *[(name, text) for name in ("patch", "verdict", "turns", "timings", "metrics")],
        ]
    )


NESTED = ("verdict", "turns", "timings", "metrics")


def _parquet_row(record: RolloutRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    row = {k: v for k, v in data.items() if k not in NESTED}
    row.update({k: json.dumps(data[k]) for k in NESTED})
    row["outcome"] = record.verdict.outcome.value if record.verdict else None
    row["reward"] = record.verdict.reward if record.verdict else None
    return row
