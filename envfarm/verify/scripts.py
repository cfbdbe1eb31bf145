"""Shell scripts the verifier runs inside an environment (pure: it only builds text).

Patches travel inside the script as quoted here-documents (a delimiter that the text cannot contain), so
preparing an environment is one round trip. Exit codes of the prepare script say which step failed.
"""

from __future__ import annotations

import secrets
import shlex

from envfarm.verify.diffpaths import parse_diff

WORK = "/tmp/envfarm-verify"
CANDIDATE = f"{WORK}/candidate.diff"
TEST_PATCH = f"{WORK}/test.diff"
LOG = f"{WORK}/run.log"
JUNIT = f"{WORK}/junit.xml"
LOG_TAIL_BYTES = 900_000  # what comes back of a long log: its end holds the summary
CANDIDATE_FAILED, RESTORE_FAILED, TEST_PATCH_FAILED = 10, 11, 12
APPLY_METHOD = "envfarm-apply:"


def heredoc(path: str, text: str) -> str:
    tag = "ENVFARM_" + secrets.token_hex(8)
    while tag in text:
        tag = "ENVFARM_" + secrets.token_hex(8)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"cat > {shlex.quote(path)} <<'{tag}'\n{body}{tag}\n"


def apply_candidate() -> str:
    """git apply, then a 3-way merge, then patch(1) with fuzz; prints which one worked."""
    f = shlex.quote(CANDIDATE)
    tries = [
        ("git apply", f"git apply --whitespace=nowarn {f}"),
        ("git apply --3way", f"git apply --3way --whitespace=nowarn {f}"),
        ("patch --fuzz", f"git reset -q --hard && patch -p1 --batch --forward --fuzz=3 -i {f}"),
    ]
    lines = [
        f"if {cmd} >>{WORK}/apply.log 2>&1; then echo '{APPLY_METHOD} {name}'" for name, cmd in tries[:1]
    ]
    lines += [
        f"elif {cmd} >>{WORK}/apply.log 2>&1; then echo '{APPLY_METHOD} {name}'" for name, cmd in tries[1:]
    ]
    lines.append(f"else cat {WORK}/apply.log >&2; exit {CANDIDATE_FAILED}; fi")
    return "\n".join(lines) + "\n"


def restore(paths: list[str], base_commit: str) -> str:
    """Put every path back as it is at the base commit (or remove it where the base has no such file)."""
    base = shlex.quote(base_commit)
    out = []
    for path in paths:
        p = shlex.quote(path)
        out.append(
            f"if git cat-file -e {base}:{p} 2>/dev/null; then git checkout -q {base} -- {p}; "
            f"else rm -rf -- {p}; fi || exit {RESTORE_FAILED}"
        )
    return "\n".join(out) + ("\n" if out else "")


def prepare(candidate: str, test_patch: str, base_commit: str) -> str:
    """Apply the candidate, restore the test_patch's files to base, apply the test_patch."""
    paths = sorted({p for change in parse_diff(test_patch) for p in change.paths})
    parts = [f"set -u\nrm -rf {WORK}\nmkdir -p {WORK}\n"]
    if candidate.strip():
        parts += [heredoc(CANDIDATE, candidate), apply_candidate()]
    parts.append(restore(paths, base_commit))
    if test_patch.strip():
        parts.append(heredoc(TEST_PATCH, test_patch))
        parts.append(f"git apply --whitespace=nowarn {TEST_PATCH} >&2 || exit {TEST_PATCH_FAILED}\n")
    return "".join(parts)


def run(test_command: str, home: str) -> str:
    """Run the tests with all output to the log file, print the log's tail, exit with the tests' code."""
    return (
        f"mkdir -p {shlex.quote(home)} && rm -f {JUNIT}\n"
        f"{test_command} > {LOG} 2>&1\nrc=$?\ntail -c {LOG_TAIL_BYTES} {LOG}\nexit $rc\n"
    )
