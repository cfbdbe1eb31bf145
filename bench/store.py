"""Task-store benchmark: ingest 100k realistic tasks, then time three typical filtered queries.

Sizes follow SWE-bench's (lognormal patch, test-patch and statement lengths around the published medians).
The floor is a plain ``json.loads`` of every line of the same file, measured in the same run.
Last line: one JSON object with ingest_s, tasks_per_s, store_mb, query_p50_ms, query_p99_ms (worst of the
three queries), peak_rss_mb and ratio_vs_json_loads. Targets: 100k tasks <= 60 s, each query <= 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from envfarm.store.ingest import ingest
from envfarm.store.tasks import TaskFilter, TaskStore

WORDS = [
    "the",
    "a",
    "parser",
    "returns",
    "wrong",
    "value",
    "when",
    "input",
    "is",
    "empty",
    "list",
    "dict",
    "raises",
    "TypeError",
    "instead",
    "of",
    "ValueError",
    "expected",
    "behaviour",
    "actual",
    "traceback",
    "version",
    "python",
    "regression",
    "since",
    "upgrade",
    "config",
    "option",
    "default",
    "unicode",
    "path",
    "windows",
    "timezone",
    "datetime",
    "dataframe",
    "index",
    "column",
    "render",
    "template",
    "query",
    "migration",
    "model",
]


# A Zipf-distributed vocabulary of 20k words, as in real issue text: a few words are everywhere,
# most are rare, so a typical search term matches a few percent of tasks.
VOCAB = WORDS + [f"{w}{k}" for k in range(1, 400) for w in ("fn", "cls", "arg", "mod", "err")]
VOCAB += [f"ident{k}" for k in range(20_000 - len(VOCAB))]
CUM_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(VOCAB))))


def _text(rng: random.Random, median_chars: int) -> str:
    target = int(rng.lognormvariate(0, 0.8) * median_chars)
    words = rng.choices(VOCAB, cum_weights=CUM_WEIGHTS, k=max(target // 7, 1))
    return " ".join(words)[:target]


def _diff(rng: random.Random, path: str, median_chars: int) -> str:
    body = _text(rng, median_chars)
    lines = [body[i : i + 70] for i in range(0, len(body), 70)] or ["x"]
    hunk = [
        f"-    {line}" if i % 3 == 0 else f"+    {line}" if i % 3 == 1 else f"     {line}"
        for i, line in enumerate(lines)
    ]
    header = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,{len(lines)} +1,{len(lines)} @@\n"
    )
    return header + "\n".join(hunk) + "\n"


def make_task(rng: random.Random, n: int, repos: list[str]) -> dict[str, object]:
    repo = repos[n % len(repos)]
    module = f"{repo.split('/')[1]}/mod{n % 97}.py"
    tests = [f"tests/test_mod{n % 97}.py::test_case_{n}_{k}[param-{k}]" for k in range(rng.randint(1, 4))]
    passing = [f"tests/test_mod{n % 97}.py::test_other_{k}" for k in range(rng.randint(0, 60))]
    return {
        "repo": repo,
        "instance_id": f"{repo.replace('/', '__')}-{n}",
        "base_commit": f"{rng.getrandbits(160):040x}",
        "patch": _diff(rng, module, 1500),
        "test_patch": _diff(rng, f"tests/test_mod{n % 97}.py", 2500),
        "problem_statement": f"Issue {n}: " + _text(rng, 1400),
        "hints_text": _text(rng, 300) if n % 3 == 0 else "",
        "created_at": f"20{15 + n % 10}-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00Z",
        "version": f"{n % 5}.{n % 3}",
        "FAIL_TO_PASS": json.dumps(tests),
        "PASS_TO_PASS": json.dumps(passing),
        "environment_setup_commit": f"{rng.getrandbits(160):040x}",
    }


def generate(path: Path, count: int) -> None:
    rng = random.Random(7)
    repos = [f"org{k}/project{k}" for k in range(200)]
    with path.open("w") as handle:
        for n in range(count):
            handle.write(json.dumps(make_task(rng, n, repos)) + "\n")


def floor_json_loads(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - start


def time_queries(store: TaskStore, repeats: int) -> dict[str, list[float]]:
    queries = {
        "repo": TaskFilter(repo="org17/project17"),
        "text": TaskFilter(text="TypeError"),
        "status_kind_text": TaskFilter(status="new", kind="swe", text="timezone datetime"),
    }
    timings: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(repeats):
        for name, where in queries.items():
            start = time.perf_counter()
            store.query(where, limit=50)
            store.count(where, cap=10_000)  # as `envfarm tasks list` counts
            timings[name].append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="2,000 tasks: a quick check, not the target run")
    args = parser.parse_args()
    count = 2_000 if args.smoke else args.tasks
    with tempfile.TemporaryDirectory() as tmp:
        src, db = Path(tmp) / "tasks.jsonl", Path(tmp) / "tasks.db"
        generate(src, count)
        floor = floor_json_loads(src)
        with TaskStore(db) as store:
            start = time.perf_counter()
            report = ingest(store, [src])
            ingest_s = time.perf_counter() - start
            assert report.accepted == count, report.summary()
            timings = time_queries(store, 30)
        store_mb = sum(p.stat().st_size for p in Path(tmp).glob("tasks.db*")) / 2**20
    p50 = max(statistics.median(t) for t in timings.values())
    p99 = max(sorted(t)[int(len(t) * 0.99) - 1] for t in timings.values())
    for name, t in timings.items():
        print(f"query {name}: p50 {statistics.median(t):.2f} ms, max {max(t):.2f} ms", file=sys.stderr)
    result = {
        "tasks": count,
        "ingest_s": round(ingest_s, 2),
        "tasks_per_s": round(count / ingest_s),
        "store_mb": round(store_mb, 1),
        "query_p50_ms": round(p50, 2),
        "query_p99_ms": round(p99, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ratio_vs_json_loads": round(ingest_s / floor, 2),
        "target_ingest_s_per_100k": 60,
        "ratio_ingest_to_target": round(ingest_s * (100_000 / count) / 60, 3),
        "target_query_ms": 50,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
