"""Pure keys of a task: content hash, normalised patch fingerprint, PR number. No I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

_PR_SUFFIX = re.compile(r"-(\d+)$")
_FILE_HEADER = re.compile(r"^(?:\+\+\+|---) (?:[ab]/)?(\S+)")


def canonical_json(record: dict[str, Any]) -> bytes:
    """The record as compact UTF-8 JSON with sorted keys: equal content, equal bytes."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def content_hash(canonical: bytes) -> str:
    """sha256 of a record's canonical JSON: identical content gives an identical hash."""
    return hashlib.sha256(canonical).hexdigest()


def patch_fingerprint(patch: str) -> str | None:
    """Hash of what a patch changes, blind to line numbers, context and index lines.

    A backport of a fix to another branch has other hunk offsets and context but the same changed lines
    in the same files, so it gets the same fingerprint. An empty patch has none.
    """
    if not patch.strip():
        return None
    digest = hashlib.sha256()
    for line in patch.splitlines():
        header = _FILE_HEADER.match(line)
        if header:
            digest.update(b"F" + header.group(1).encode())
        elif line[:1] in "+-" and not line.startswith(("+++", "---")):
            digest.update(line.rstrip().encode() + b"\n")
    return digest.hexdigest()


def pr_number(instance_id: str, repo: str, declared: int | None) -> int | None:
    """The pull request a task came from: declared in its source block, else a SWE-bench id's suffix.

    Only ids of SWE-bench's exact shape (``owner__name-123`` for repo ``owner/name``) are read this way.
    """
    if declared is not None:
        return declared
    match = _PR_SUFFIX.search(instance_id)
    if match and instance_id[: match.start()] == repo.replace("/", "__"):
        return int(match.group(1))
    return None
