"""Rollout records of samples the controller runs one at a time, stored as whole groups.

The controller finishes a group's G samples independently (each in its own env pod, each re-dispatched
on its own), but the record store takes a group whole or not at all, and a trainer reads only complete
groups. So a finished record is first staged as a file (``artifacts_dir/rollouts/_staged/<group>/``,
written atomically: it survives a controller restart), and the group is stored once all G are staged. A
sample run again after the group was stored (a restart adopted its env) replaces its record in the
stored group. A group one of whose samples ended as an infrastructure error for good is recorded as
dropped (:meth:`GroupRecords.drop`: its staged records go, later ones are not staged), so a trainer
following the job sees it end and never trains on it; the job's status counts it too.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from envfarm.agent.recording import group_id
from envfarm.errors import StoreError
from envfarm.models.rollout import RolloutGroup, RolloutRecord
from envfarm.settings import Settings
from envfarm.store.records import COMPLETE, DROPPED, RecordStore

STAGED = "_staged"


class GroupRecords:
    """``await GroupRecords(settings).add(record, group_size)``: True once the record's group is stored."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.staged = settings.artifacts_dir / "rollouts" / STAGED
        self._lock = asyncio.Lock()
        self._store: RecordStore | None = None

    @property
    def db(self) -> Path:
        """Where the records are (the record store's SQLite file)."""
        return self.settings.home / "rollouts.db"

    @property
    def store(self) -> RecordStore:
        if self._store is None:
            self._store = RecordStore.open(self.settings)
        return self._store

    async def add(self, record: RolloutRecord, group_size: int) -> bool:
        async with self._lock:
            return await asyncio.to_thread(self._add, record, group_size)

    async def drop(self, job: str, task_id: str, reason: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._drop, job, task_id, reason)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _drop(self, job: str, task_id: str, reason: str) -> None:
        gid = group_id(job, task_id)
        if not self.store.groups(group_id=gid):  # a stored group (complete, or dropped already) stays
            self.store.drop_group(job=job, group_id=gid, task_id=task_id, reason=reason)
        shutil.rmtree(self.staged / gid, ignore_errors=True)

    def _add(self, record: RolloutRecord, group_size: int) -> bool:
        if self.store.groups(group_id=record.group_id, status=DROPPED):
            return False  # a sample of its group gave up: the group is not trained on
        if self._replace_stored(record):
            return True
        folder = self.staged / record.group_id
        _write_atomic(folder / f"{record.sample_idx}.json", record.model_dump_json())
        records = self._staged(folder, group_size)
        if records is None:
            return False
        group = RolloutGroup(
            group_id=record.group_id, task_id=record.task_id, job=record.job, records=records
        )
        self.store.put_group(group)
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def _replace_stored(self, record: RolloutRecord) -> bool:
        """A sample of a group stored already: its record is replaced in place."""
        if not self.store.groups(group_id=record.group_id, status=COMPLETE):
            return False
        group = self.store.group(record.group_id)
        kept = [r for r in group.records if r.sample_idx != record.sample_idx]
        records = sorted([*kept, record], key=lambda r: r.sample_idx)
        self.store.put_group(group.model_copy(update={"records": records}))
        return True

    def _staged(self, folder: Path, group_size: int) -> list[RolloutRecord] | None:
        """The group's records once every sample 0..G-1 is staged, else None."""
        paths = [folder / f"{i}.json" for i in range(group_size)]
        if not all(p.exists() for p in paths):
            return None
        try:
            return [RolloutRecord.model_validate_json(p.read_text(encoding="utf-8")) for p in paths]
        except (OSError, ValueError) as exc:
            raise StoreError(f"staged records of group {folder.name} in {folder}: {exc}") from exc


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise StoreError(f"cannot stage the record {path}: {exc}") from exc
