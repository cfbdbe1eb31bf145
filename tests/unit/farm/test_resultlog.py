"""The result log: a job's per-sample results as JSON lines beside a status that stays small."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from envfarm.errors import RecordError
from envfarm.farm import resultlog
from envfarm.farm.book import HELD, INFRA, Book
from envfarm.farm.localjobs import LocalJobs
from envfarm.models.job import RESULTS_IN_STATUS, RolloutJob, SampleResult


def res(task: str, sample: int, outcome: str = "pass", reason: str = "") -> SampleResult:
    return SampleResult(
        task_id=task, sample=sample, outcome=outcome, reward=1.0 if outcome == "pass" else 0.0, reason=reason
    )


def test_lines_round_trip_and_the_last_written_line_of_a_sample_wins() -> None:
    first = "\n".join(
        line.decode() for line in resultlog.lines("u1", {3: res("t1", 1, "fail"), 0: res("t0", 0)})
    )
    rerun = resultlog.lines("u1", {3: res("t1", 1, "pass")})[0].decode()  # after a lost status write
    other = resultlog.lines("u0", {7: res("old", 0)})[0].decode()  # a deleted job of the same name
    got = resultlog.read([first, other + "\n" + rerun + "\n\n"], "u1")
    assert got == [res("t0", 0), res("t1", 1, "pass")]


def test_chunks_stay_under_the_configmap_limit_and_lose_no_line() -> None:
    batch = {i: res(f"task-{i}", 0, "fail", reason="x" * 300) for i in range(5000)}
    texts = list(resultlog.chunks(resultlog.lines("u", batch)))
    assert len(texts) >= 3 and all(len(t.encode()) <= resultlog.MAX_CHUNK_BYTES for t in texts)
    assert all(t.count("\n") <= resultlog.MAX_CHUNK_LINES for t in texts)
    assert resultlog.read(texts, "u") == [batch[i] for i in range(5000)]


def test_a_broken_line_is_named() -> None:
    good = resultlog.lines("u", {0: res("t", 0)})[0].decode()
    with pytest.raises(RecordError, match=r"log.jsonl:2"):
        resultlog.read([good + "\n{not json\n"], "u", where="log.jsonl")
    with pytest.raises(RecordError, match="not a sample result"):
        resultlog.read([orjson.dumps({"uid": "u", "index": 0, "result": {"sample": 0}}).decode()], "u")


def test_status_stays_small_at_100k_samples_while_the_details_go_to_the_log() -> None:
    book = Book()
    for s in range(100_000):
        outcome = "pass" if s % 3 else "fail"
        if s % 1000 == 7:
            book.fail(s, "oom", was_up=True, allowed=0, task=(f"t{s}", 0), detail="killed")
        else:
            book.finish(s, res(f"t{s}", 0, outcome, reason="tests failed: " + "y" * 100))
    status = book.to_status(100_000, 0, 1, [])
    size = len(status.model_dump_json())
    assert size < 1_000_000, f"{size} bytes: a status must fit an etcd object (1.5 MiB) with room"
    assert len(book.unlogged) == 100_000
    assert len(status.results) == RESULTS_IN_STATUS and status.results[7].outcome == INFRA
    back = Book.from_status(status, 100_000, ["t"])
    assert back.counts(100_000, 0) == book.counts(100_000, 0)
    assert back.done[7] == INFRA and back.done[0] == "fail" and back.done[1] == "pass"
    held = Book()
    for s in range(100_000):
        held.finish(s, SampleResult(task_id="t", sample=s, outcome=HELD))
    assert len(held.to_status(100_000, 0, 1, []).model_dump_json()) < 1000 and not held.unlogged


def test_book_forgets_only_what_was_logged() -> None:
    book = Book()
    book.finish(0, res("t", 0))
    batch = dict(book.unlogged)
    book.finish(1, res("t", 1))  # finished while the batch was being written
    book.logged(batch)
    assert sorted(book.unlogged) == [1]


def test_local_result_log_is_per_job_uid(tmp_path: Path) -> None:
    jobs = LocalJobs(tmp_path / "jobs")
    obj = jobs.create(RolloutJob(name="j"))
    uid = obj["metadata"]["uid"]
    assert jobs.add_results("j", uid, {1: res("t", 1, "fail"), 0: res("t", 0)})
    assert not jobs.add_results("j", "another-uid", {2: res("t", 2)}), "a stale controller writes nothing"
    assert jobs.results("j") == [res("t", 0), res("t", 1, "fail")]
    assert jobs.delete("j") and not jobs.results_path("j").exists()
    jobs.create(RolloutJob(name="j"))
    assert jobs.results("j") == []
