"""The local backend's RolloutJobs: one JSON file per job under ``<home>/jobs``, shaped like the custom
resource (metadata, spec, status), so `envfarm jobs status` shows the same thing for both backends.

Writes are atomic (temporary file + rename) and serialised by a file lock: the process running a job
writes its status while `envfarm jobs cancel` (another process) sets ``spec.suspend``. Each write bumps
``metadata.resourceVersion``; a spec change bumps ``metadata.generation`` as the API server would.
"""

from __future__ import annotations

import builtins
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from envfarm.errors import FileFormatError, InputError, NotFoundError
from envfarm.farm import resultlog
from envfarm.farm.book import FINISHED_PHASES
from envfarm.farm.clock import iso
from envfarm.farm.crd import API_VERSION, KIND
from envfarm.models.job import RolloutJob, RolloutJobStatus, SampleResult

Obj = dict[str, Any]
NAMESPACE = "local"


class LocalJobs:
    """The job files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[tuple[int, int], Obj]] = {}

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def _lock(self, name: str) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / f".{name}.lock"))

    # ---- reads ---------------------------------------------------------------------------------
    def get(self, name: str) -> Obj:
        path = self.path(name)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise NotFoundError(f"no local job {name!r} (looked for {path})") from None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            obj: Obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"{path}: unreadable job file: {exc}") from exc
        self._cache[name] = (stamp, obj)
        return obj

    def find(self, name: str) -> Obj | None:
        try:
            return self.get(name)
        except NotFoundError:
            return None

    def list(self) -> list[Obj]:
        if not self.root.is_dir():
            return []
        return [obj for p in sorted(self.root.glob("*.json")) if (obj := self.find(p.stem)) is not None]

    # ---- writes --------------------------------------------------------------------------------
    def create(self, job: RolloutJob, now: float | None = None) -> Obj:
        """A new job file; a job of that name must not exist."""
        with self._lock(job.name):
            if self.path(job.name).exists():
                raise InputError(f"local job {job.name!r} exists already ({self.path(job.name)})")
            for stale in (self.events_path(job.name), self.results_path(job.name)):  # a crashed delete's
                stale.unlink(missing_ok=True)
            obj: Obj = {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "metadata": {
                    "name": job.name,
                    "namespace": NAMESPACE,
                    "uid": str(uuid.uuid4()),
                    "generation": 1,
                    "resourceVersion": "1",
                    "creationTimestamp": iso(time.time() if now is None else now),
                },
                "spec": job.spec.model_dump(mode="json"),
                "status": {},
            }
            self._write(obj)
        return obj

    def update(self, name: str, change: Callable[[Obj], bool], uid: str = "") -> bool:
        """Apply ``change`` to the current object under the lock; False when it declined, or ``uid``
        (when given) no longer names this job."""
        with self._lock(name):
            obj = json.loads(json.dumps(self.get(name)))  # a private copy to change
            if (uid and obj["metadata"].get("uid") != uid) or not change(obj):
                return False
            meta = obj["metadata"]
            meta["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)
            self._write(obj)
        return True

    def write_status(self, name: str, uid: str, status: RolloutJobStatus) -> bool:
        def change(obj: Obj) -> bool:
            obj["status"] = status.model_dump(mode="json")
            return True

        try:
            return self.update(name, change, uid)
        except NotFoundError:
            return False

    def cancel(self, name: str) -> bool:
        """Set ``spec.suspend`` (no new envs; the runner ends the job as Cancelled); False if finished."""

        def change(obj: Obj) -> bool:
            if (obj.get("status") or {}).get("phase") in FINISHED_PHASES or obj["spec"].get("suspend"):
                return False
            obj["spec"]["suspend"] = True
            obj["metadata"]["generation"] = int(obj["metadata"].get("generation") or 1) + 1
            return True

        return self.update(name, change)

    def delete(self, name: str) -> bool:
        with self._lock(name):
            self.events_path(name).unlink(missing_ok=True)
            self.results_path(name).unlink(missing_ok=True)
            try:
                self.path(name).unlink()
            except FileNotFoundError:
                return False
        self._cache.pop(name, None)
        return True

    def results_path(self, name: str) -> Path:
        return self.root / f"{name}.results.jsonl"

    def add_results(self, name: str, uid: str, batch: Mapping[int, SampleResult]) -> bool:
        """Append finished samples' results to the job's result log (synced to disk before returning);
        False when ``uid`` no longer names this job."""
        with self._lock(name):
            current = self.find(name)
            if current is None or current["metadata"].get("uid") != uid:
                return False
            with self.results_path(name).open("ab") as out:
                out.write(b"".join(line + b"\n" for line in resultlog.lines(uid, batch)))
                out.flush()
                os.fsync(out.fileno())
        return True

    def results(self, name: str) -> builtins.list[SampleResult]:
        """Each finished sample's result (its last written line), by sample index."""
        uid = str(self.get(name)["metadata"].get("uid", ""))
        path = self.results_path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return resultlog.read([text], uid, where=str(path))

    def events_path(self, name: str) -> Path:
        return self.root / f"{name}.events.jsonl"

    def add_event(self, name: str, reason: str, message: str, warning: bool, now: float) -> None:
        """Append one event (the controller rate-limits them) to the job's event log."""
        row = {"time": iso(now), "type": "Warning" if warning else "Normal", "reason": reason}
        with self.events_path(name).open("a", encoding="utf-8") as out:
            out.write(json.dumps({**row, "message": message}) + "\n")

    def events(self, name: str) -> builtins.list[Obj]:
        try:
            lines = self.events_path(name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def _write(self, obj: Obj) -> None:
        path = self.path(obj["metadata"]["name"])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        self._cache.pop(obj["metadata"]["name"], None)
