"""A job's per-sample results as an append-only log of JSON lines (pure).

A RolloutJob's ``status`` keeps counts, the finished samples and their outcomes as index ranges, and the
detail of the first 100 samples only: it stays well under etcd's object limit at 100k samples, and every
status write stays cheap. The detail of every finished sample (task, reward, reason) goes to the job's
result log, written before the status that names the sample as done: on Kubernetes, ConfigMaps owned
by the job (created, never updated; deleted with it); locally, a JSON-lines file beside the job's file.

A line is ``{"uid": <job uid>, "index": <sample index in the job>, "result": <SampleResult>}``. A sample
rerun after a controller restart (its result written, its status write lost) appears twice: the later
line wins. Lines of another job that had the same name (another uid) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import orjson
from pydantic import ValidationError

from envfarm.errors import RecordError
from envfarm.models.job import SampleResult

MAX_CHUNK_BYTES = 512 * 1024  # a ConfigMap holds at most 1 MiB; leave room for the envelope
MAX_CHUNK_LINES = 2000


def lines(uid: str, batch: Mapping[int, SampleResult]) -> list[bytes]:
    """One line (no newline) per result, by sample index."""
    return [
        orjson.dumps({"uid": uid, "index": index, "result": batch[index].model_dump(mode="json")})
        for index in sorted(batch)
    ]


def chunks(
    encoded: Iterable[bytes], *, max_bytes: int = MAX_CHUNK_BYTES, max_lines: int = MAX_CHUNK_LINES
) -> Iterator[str]:
    """The lines joined into texts of at most ``max_bytes`` (a longer single line is its own chunk)."""
    part: list[bytes] = []
    size = 0
    for line in encoded:
        if part and (size + len(line) + 1 > max_bytes or len(part) >= max_lines):
            yield b"\n".join(part).decode() + "\n"
            part, size = [], 0
        part.append(line)
        size += len(line) + 1
    if part:
        yield b"\n".join(part).decode() + "\n"


def read(texts: Iterable[str], uid: str, *, where: str = "result log") -> list[SampleResult]:
    """The results of job ``uid`` from its log texts in write order: one per sample (the last written),
    by sample index. A line that is not a result raises :class:`RecordError` naming ``where``."""
    latest: dict[int, SampleResult] = {}
    for text in texts:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
                if row.get("uid") != uid:
                    continue
                latest[int(row["index"])] = SampleResult.model_validate(row["result"])
            except (orjson.JSONDecodeError, ValidationError, KeyError, TypeError, ValueError, AttributeError):
                raise RecordError(f"not a sample result: {line[:120]!r}", source=where, line=n) from None
    return [latest[i] for i in sorted(latest)]
