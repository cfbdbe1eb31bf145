"""A synthetic git history for benchmarks and tests, written by one ``git fast-import`` (seconds for 5,000
commits). A mix of what real histories hold: PR merges, squash merges, single fix commits with tests,
docs-only commits and changes to the packaging files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envfarm.errors import HarvestError

_PYPROJECT = """[project]
name = "synth"
requires-python = ">=3.8"
[project.optional-dependencies]
test = ["pytest"]
"""
_MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"


def _blob(path: str, text: str) -> str:
    data = text.encode()
    return f"M 100644 inline {path}\ndata {len(data)}\n{text}\n"


def _commit(ref: str, mark: int, when: int, message: str, parents: list[int], files: str) -> str:
    msg = message.encode()
    head = f"commit {ref}\nmark :{mark}\nauthor Dev <dev@example.com> {when} +0000\n"
    head += f"committer Dev <dev@example.com> {when} +0000\ndata {len(msg)}\n{message}\n"
    if parents:
        head += f"from :{parents[0]}\n" + "".join(f"merge :{p}\n" for p in parents[1:])
    return head + files + "\n"


def _change(i: int) -> str:
    module = i % 50
    code = f"def f{module}(x):\n    return x + {i}\n"
    test = f"from pkg.m{module} import f{module}\n\n\ndef test_f{module}():\n    assert f{module}(0) == {i}\n"
    return _blob(f"pkg/m{module}.py", code) + _blob(f"tests/test_m{module}.py", test)


def history_stream(commits: int, start: int = 1_500_000_000) -> str:
    """The fast-import stream: ``commits`` first-parent commits (a PR merge adds one branch commit)."""
    out = [
        _commit(
            "refs/heads/main",
            1,
            start,
            "Initial commit",
            [],
            _blob("LICENSE", _MIT) + _blob("pyproject.toml", _PYPROJECT),
        )
    ]
    mark, head = 1, 1
    for i in range(1, commits):
        when = start + i * 3600
        body = f"The function f{i % 50} returned the wrong value for zero; it now adds {i}.\n\nFixes #{i}.\n"
        if i % 5 == 0:  # PR: branch commit + merge commit
            mark += 1
            out.append(_commit("refs/heads/side", mark, when, f"Fix f{i % 50}\n\n{body}", [head], _change(i)))
            mark += 1
            merge = f"Merge pull request #{i} from dev/fix-{i}\n\nFix f{i % 50}\n\n{body}"
            out.append(_commit("refs/heads/main", mark, when + 60, merge, [head, mark - 1], _change(i)))
        else:
            mark += 1
            title = f"Fix f{i % 50} (#{i})" if i % 5 == 1 else f"Fix f{i % 50}"
            files = _blob("docs/notes.txt", f"note {i}\n") if i % 7 == 0 else _change(i)
            if i % 97 == 0:
                files += _blob("pyproject.toml", _PYPROJECT + f"# rev {i}\n")
            out.append(_commit("refs/heads/main", mark, when, f"{title}\n\n{body}", [head], files))
        head = mark
    return "".join(out)


def make_history(path: Path, commits: int = 5000) -> Path:
    """A new repository at ``path`` whose main branch holds the synthetic history."""
    path.mkdir(parents=True, exist_ok=True)
    for args in (["init", "-q", "-b", "main"], ["fast-import", "--quiet"], ["reset", "-q", "--hard", "main"]):
        stdin = history_stream(commits).encode() if args[0] == "fast-import" else None
        proc = subprocess.run(["git", "-C", str(path), *args], input=stdin, capture_output=True, check=False)
        if proc.returncode != 0:
            raise HarvestError(
                f"git {args[0]} failed in {path}: {proc.stderr.decode(errors='replace')[:300]}"
            )
    return path
