"""The harvest's own SQLite file (``Settings.home/harvest.db``): funnel ledger, resume cursors, ETag cache.

Thread-safe: one connection guarded by a lock, WAL journal, every write in its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from envfarm.errors import StoreError
from envfarm.harvest.ledger import PIPELINE_VERSION, LedgerEntry, Reason, Stage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
  repo TEXT NOT NULL, key TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  instance_id TEXT NOT NULL, patch_hash TEXT NOT NULL, pipeline_version TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (repo, key));
CREATE TABLE IF NOT EXISTS cursor (
  source TEXT NOT NULL, repo TEXT NOT NULL, value TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (source, repo));
CREATE TABLE IF NOT EXISTS http_cache (url TEXT PRIMARY KEY, etag TEXT NOT NULL, body TEXT NOT NULL);
"""
_COLUMNS = "repo, key, stage, reason, detail, instance_id, patch_hash, pipeline_version, updated_at"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HarvestDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open harvest database {path}: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"harvest database {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, entries: Iterable[LedgerEntry]) -> None:
        """Insert or replace ledger rows (a candidate has one row: the last stage it reached)."""
        rows = [_row(e) for e in entries]
        with self._tx() as db:
            db.executemany(f"INSERT OR REPLACE INTO ledger ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def entries(self, repo: str | None = None) -> list[LedgerEntry]:
        sql = f"SELECT {_COLUMNS} FROM ledger" + (" WHERE repo = ?" if repo else "") + " ORDER BY repo, key"
        with self._lock:
            rows = self._db.execute(sql, (repo,) if repo else ()).fetchall()
        names = _COLUMNS.split(", ")
        return [LedgerEntry.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def done_keys(self, repo: str, version: str = PIPELINE_VERSION) -> set[str]:
        """Keys of this repo that the given pipeline version has finished (not pending)."""
        sql = "SELECT key FROM ledger WHERE repo = ? AND pipeline_version = ? AND reason != ?"
        with self._lock:
            rows = self._db.execute(sql, (repo, version, Reason.pending.value)).fetchall()
        return {r[0] for r in rows}

    def patch_hashes(self) -> dict[str, str]:
        """Gold-patch hash -> key of the first candidate holding it (seeds duplicate detection on resume)."""
        sql = "SELECT patch_hash, repo || ':' || key FROM ledger WHERE patch_hash != '' ORDER BY updated_at"
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        seen: dict[str, str] = {}
        for digest, key in rows:
            seen.setdefault(digest, key)
        return seen

    def get_cursor(self, source: str, repo: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM cursor WHERE source = ? AND repo = ?", (source, repo)
            ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_cursor(self, source: str, repo: str, value: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO cursor VALUES (?,?,?,?)", (source, repo, json.dumps(value), now_iso())
            )

    def cached(self, url: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT etag, body FROM http_cache WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else None

    def cache(self, url: str, etag: str, body: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO http_cache VALUES (?,?,?)", (url, etag, body))


def _row(e: LedgerEntry) -> tuple[str, ...]:
    stage, reason = Stage(e.stage).value, Reason(e.reason).value
    when = e.updated_at or now_iso()
    return (e.repo, e.key, stage, reason, e.detail, e.instance_id, e.patch_hash, e.pipeline_version, when)
