"""SQLite schema of the task store, and opening a connection with the right pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from envfarm.errors import StoreError

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    instance_id  TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    repo         TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    pr_number    INTEGER,
    patch_hash   TEXT,
    content_hash TEXT NOT NULL,
    revision     INTEGER NOT NULL DEFAULT 1,
    source_file  TEXT NOT NULL DEFAULT '',
    ingested_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_repo ON tasks(repo, created_at);
CREATE INDEX IF NOT EXISTS tasks_kind_status ON tasks(kind, status, created_at);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status, created_at);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created_at);
CREATE INDEX IF NOT EXISTS tasks_repo_pr ON tasks(repo, pr_number) WHERE pr_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_patch_hash ON tasks(patch_hash) WHERE patch_hash IS NOT NULL;
-- The large parts live apart, one row per task with the same rowid, so that filtering and counting
-- touch only the small rows above.
CREATE TABLE IF NOT EXISTS task_blobs (
    rowid     INTEGER PRIMARY KEY,
    statement TEXT NOT NULL,
    data      BLOB NOT NULL  -- zlib of the canonical JSON (TEXT JSON in stores written before: both read)
);
CREATE TABLE IF NOT EXISTS task_revisions (
    instance_id  TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    replaced_at  TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (instance_id, revision)
);
CREATE VIRTUAL TABLE IF NOT EXISTS tasks_fts USING fts5(
    statement, content='task_blobs', content_rowid='rowid', tokenize='unicode61', detail='none'
);
CREATE TRIGGER IF NOT EXISTS task_blobs_ai AFTER INSERT ON task_blobs BEGIN
    INSERT INTO tasks_fts(rowid, statement) VALUES (new.rowid, new.statement);
END;
CREATE TRIGGER IF NOT EXISTS task_blobs_ad AFTER DELETE ON task_blobs BEGIN
    INSERT INTO tasks_fts(tasks_fts, rowid, statement) VALUES ('delete', old.rowid, old.statement);
END;
CREATE TRIGGER IF NOT EXISTS task_blobs_au AFTER UPDATE OF statement ON task_blobs BEGIN
    INSERT INTO tasks_fts(tasks_fts, rowid, statement) VALUES ('delete', old.rowid, old.statement);
    INSERT INTO tasks_fts(rowid, statement) VALUES (new.rowid, new.statement);
END;
CREATE TRIGGER IF NOT EXISTS tasks_ad AFTER DELETE ON tasks BEGIN
    DELETE FROM task_blobs WHERE rowid = old.rowid;
END;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store at ``path``: WAL, foreign keys, schema applied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the task store at {path}: {exc}") from exc
    _check_version(conn, path)
    return conn


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or int(row[0]) != SCHEMA_VERSION:
        found = row[0] if row else "none"
        raise StoreError(f"{path}: store schema version {found}, this envfarm reads {SCHEMA_VERSION}")
