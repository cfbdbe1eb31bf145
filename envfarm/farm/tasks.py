"""Where a job's tasks come from: the task store (ids, or a filter over it)."""

from __future__ import annotations

import sqlite3
from typing import Protocol

from envfarm.errors import EnvfarmError, InputError
from envfarm.models.job import TaskSelector
from envfarm.models.task import SweTask
from envfarm.settings import Settings
from envfarm.store.tasks import TaskFilter, TaskStore


class TaskSource(Protocol):
    def resolve(self, selector: TaskSelector) -> list[str]: ...

    def get(self, task_id: str) -> SweTask: ...

    def image(self, task_id: str) -> str: ...


class StoreTasks:
    """The task store under ``settings``; a job naming ids needs no store until a task's content is read."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: TaskStore | None = None
        self._cache: dict[str, SweTask] = {}
        self._images: dict[str, str] = {}

    @property
    def store(self) -> TaskStore:
        if self._store is None:
            self._store = TaskStore(self.settings.task_db)
        return self._store

    def resolve(self, selector: TaskSelector) -> list[str]:
        if selector.ids:
            ids = list(dict.fromkeys(selector.ids))
        else:
            where = TaskFilter(repo=selector.repo, kind="swe", status=selector.status, text=selector.text)
            ids = sorted(t.instance_id for t in self.store.iter_tasks(where) if isinstance(t, SweTask))
        return ids[: selector.limit] if selector.limit else ids

    def get(self, task_id: str) -> SweTask:
        if task_id not in self._cache:
            task = self.store.get(task_id)
            if not isinstance(task, SweTask):
                raise InputError(f"task {task_id}: only SWE tasks run in envs")
            self._cache[task_id] = task
        return self._cache[task_id]

    def image(self, task_id: str) -> str:
        """The task's own env image ("" when unknown: the job's default applies); looked up once."""
        if task_id not in self._images:
            try:
                self._images[task_id] = self.get(task_id).envfarm.env.image
            except (EnvfarmError, OSError, sqlite3.Error):  # unknown task or no store: the job's image
                self._images[task_id] = ""
        return self._images[task_id]
