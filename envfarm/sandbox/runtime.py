"""envfarm runtime: the small HTTP/1.1 JSON server that runs inside every environment.

One file, standard library only, runs under any python3 >= 3.8: it is copied into task images we do not
control. Start it with ``python3 -S -I runtime.py --unix PATH`` (local sandbox) or ``--port N`` (pods).
Every request must carry ``Authorization: Bearer <token>``; anything else gets 401. The token comes from
stdin (``--token-stdin``, first line), a file, or the ENVFARM_RUNTIME_TOKEN variable (removed at start).

API (version 1, all JSON; the shapes are mirrored by envfarm/sandbox/wire.py, see SHAPES below):
GET /v1/health, POST /v1/exec, /v1/read, /v1/write, /v1/list, /v1/diff.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import socket
import sys
import threading
import time
from contextlib import suppress
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

Json = Dict[str, Any]
API_VERSION = "1"
MAX_BODY = 256 * 1024 * 1024
# Field names of each request/response body; envfarm/sandbox/wire.py must agree (a test checks).
SHAPES = {
    "health": ["ok", "version", "pid", "workspace", "python"],
    "exec_request": ["argv", "cmd", "cwd", "env", "stdin", "timeout_s", "max_output"],
    "exec_response": [
        "exit_code",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "timed_out",
        "duration_s",
    ],
    "read_request": ["path", "max_bytes"],
    "read_response": ["path", "content_b64", "size"],
    "write_request": ["path", "content_b64", "mode"],
    "write_response": ["path", "size"],
    "list_request": ["path"],
    "list_response": ["path", "entries"],
    "entry": ["name", "kind", "size"],
    "diff_request": ["base_commit"],
    "diff_response": ["base_commit", "patch_b64"],
    "error": ["error", "message"],
}
DIFF_IGNORE = "__pycache__/\n*.pyc\n.pytest_cache/\n"  # untracked clutter never part of a diff


class Refused(Exception):
    """A request the runtime will not serve: carries the HTTP status and an error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        Exception.__init__(self, message)
        self.status, self.code, self.message = status, code, message


class Config(object):
    def __init__(
        self,
        token: str,
        workspace: str,
        roots: List[str],
        base_commit: Optional[str],
        limits: Dict[str, int],
        max_output: int,
    ) -> None:
        self.token, self.workspace, self.roots = token, workspace, roots
        self.base_commit, self.limits, self.max_output = base_commit, limits, max_output


# ---------------------------------------------------------------- paths


def resolve(cfg: Config, path: str, for_write: bool) -> str:
    """An absolute real path for ``path`` (relative to the workspace); writes must stay under the roots."""
    full = os.path.normpath(os.path.join(cfg.workspace, path or "."))
    if not for_write:
        return full
    real_parent = os.path.realpath(os.path.dirname(full))
    real = os.path.join(real_parent, os.path.basename(full))
    for root in cfg.roots:
        root = os.path.realpath(root)
        inside = real.startswith(root.rstrip("/") + "/")
        if inside and os.path.basename(full) not in (".", ".."):
            return real
    raise Refused(403, "path_outside", "path %r is outside the writable roots %s" % (path, cfg.roots))


# ---------------------------------------------------------------- exec


def _limit_child(limits: Dict[str, int]) -> Callable[[], None]:
    import resource

    def apply() -> None:
        for name, value in limits.items():
            resource.setrlimit(getattr(resource, name), (value, value))

    return apply


def _drain(
    proc: Any, stdin: bytes, deadline: float, cap: int
) -> Tuple[Dict[Any, bytearray], Dict[Any, bool], bool]:
    """Read stdout/stderr up to ``cap`` bytes each (the rest is read and dropped) until EOF or deadline."""
    import selectors

    bufs = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    over = {proc.stdout: False, proc.stderr: False}
    if stdin:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    sel = selectors.DefaultSelector()
    for pipe in bufs:
        sel.register(pipe, selectors.EVENT_READ)
    exited_at = None
    while sel.get_map():
        now = time.monotonic()
        if now >= deadline:
            return bufs, over, True
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > 0.5:
            break  # a background child holds the pipes open: stop waiting for it
        for key, _ in sel.select(min(0.1, deadline - now)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            room = cap - len(bufs[key.fileobj])
            bufs[key.fileobj] += chunk[: max(room, 0)]
            over[key.fileobj] = over[key.fileobj] or len(chunk) > room
    return bufs, over, False


def _feed(pipe: Any, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass


CHILDREN: Set[int] = set()  # process group ids of running commands, killed when the runtime stops


def _kill_group(proc: Any) -> None:
    with suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)


def shutdown(*_: object) -> None:
    for pgid in list(CHILDREN):
        with suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    os._exit(0)


def expire(lifetime: float) -> None:
    time.sleep(lifetime)
    sys.stderr.write("envfarm runtime: wall time of %ss is over, stopping\n" % lifetime)
    shutdown()


def run_exec(cfg: Config, req: Json) -> Json:
    import subprocess

    argv = req.get("argv") or ["/bin/sh", "-c", req.get("cmd") or ""]
    cap = min(int(req.get("max_output") or cfg.max_output), cfg.max_output)
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in (req.get("env") or {}).items()})
    stdin = req.get("stdin")
    timeout = float(req.get("timeout_s") or 600)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=resolve(cfg, req.get("cwd") or ".", False),
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_limit_child(cfg.limits) if cfg.limits else None,
        )
    except OSError as exc:
        raise Refused(400, "spawn_failed", "cannot start %r: %s" % (argv[0], exc)) from None
    CHILDREN.add(proc.pid)
    try:
        bufs, over, timed_out = _drain(proc, stdin.encode("utf-8") if stdin else b"", start + timeout, cap)
        if timed_out:
            _kill_group(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        code = proc.wait()
    finally:
        CHILDREN.discard(proc.pid)
    return {
        "exit_code": code,
        "stdout": bytes(bufs[proc.stdout]).decode("utf-8", "replace"),
        "stderr": bytes(bufs[proc.stderr]).decode("utf-8", "replace"),
        "stdout_truncated": over[proc.stdout],
        "stderr_truncated": over[proc.stderr],
        "timed_out": timed_out,
        "duration_s": round(time.monotonic() - start, 6),
    }


# ---------------------------------------------------------------- files and diff


def read_file(cfg: Config, req: Json) -> Json:
    path = resolve(cfg, req.get("path") or "", False)
    limit = int(req.get("max_bytes") or cfg.max_output)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise Refused(413, "too_large", "%s is %d bytes, over the limit of %d" % (path, size, limit))
            data = handle.read(limit + 1)
    except OSError as exc:
        raise _os_refusal(exc, path) from None
    if len(data) > limit:
        raise Refused(413, "too_large", "%s is over the limit of %d bytes" % (path, limit))
    return {"path": path, "content_b64": base64.b64encode(data).decode("ascii"), "size": len(data)}


def write_file(cfg: Config, req: Json) -> Json:
    path = resolve(cfg, req.get("path") or "", True)
    data = base64.b64decode(req.get("content_b64") or "")
    tmp = "%s.envfarm-%d-%d.tmp" % (path, os.getpid(), threading.get_ident())
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, int(req.get("mode") or 0o644))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise _os_refusal(exc, path) from None
    return {"path": path, "size": len(data)}


def list_dir(cfg: Config, req: Json) -> Json:
    path = resolve(cfg, req.get("path") or ".", False)
    entries = []
    try:
        with os.scandir(path) as scan:
            for item in scan:
                kind = "link" if item.is_symlink() else "dir" if item.is_dir() else "file"
                size = item.stat(follow_symlinks=False).st_size
                entries.append({"name": item.name, "kind": kind, "size": size})
    except OSError as exc:
        raise _os_refusal(exc, path) from None
    return {"path": path, "entries": sorted(entries, key=lambda e: e["name"])}


def _os_refusal(exc: OSError, path: str) -> Refused:
    if exc.errno == errno.ENOENT:
        return Refused(404, "not_found", "no such file or directory: %s" % path)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return Refused(403, "forbidden", "%s: %s" % (path, exc.strerror))
    return Refused(400, "os_error", "%s: %s" % (path, exc.strerror))


def git(cfg: Config, args: List[str], env: Optional[Dict[str, str]] = None) -> bytes:
    import subprocess

    cmd = ["git", "-c", "safe.directory=*", "-c", "core.quotePath=false", "-C", cfg.workspace, *args]
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise Refused(
            500, "git_failed", "%s: %s" % (" ".join(args[:2]), done.stderr.decode("utf-8", "replace"))
        )
    return done.stdout


def diff(cfg: Config, req: Json) -> Json:
    """``git diff --binary`` of the workspace (untracked files included) against the base commit."""
    import shutil
    import tempfile

    base = req.get("base_commit") or cfg.base_commit or "HEAD"
    fd, index = tempfile.mkstemp(prefix="envfarm-index-")
    os.close(fd)
    ignore = index + ".ignore"
    with open(ignore, "w") as handle:
        handle.write(DIFF_IGNORE)
    try:
        git_dir = git(cfg, ["rev-parse", "--absolute-git-dir"]).decode().strip()
        if os.path.exists(os.path.join(git_dir, "index")):
            shutil.copyfile(os.path.join(git_dir, "index"), index)
        else:
            os.unlink(index)
        env = dict(os.environ, GIT_INDEX_FILE=index)
        git(cfg, ["-c", "core.excludesFile=" + ignore, "add", "-A", "--", "."], env)
        patch = git(cfg, ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", base], env)
    finally:
        for path in (index, ignore):
            if os.path.exists(path):
                os.unlink(path)
    return {"base_commit": base, "patch_b64": base64.b64encode(patch).decode("ascii")}


# ---------------------------------------------------------------- HTTP


def health(cfg: Config, req: Json) -> Json:
    return {
        "ok": True,
        "version": API_VERSION,
        "pid": os.getpid(),
        "workspace": cfg.workspace,
        "python": "%d.%d.%d" % sys.version_info[:3],
    }


ROUTES = {
    ("GET", "/v1/health"): health,
    ("POST", "/v1/exec"): run_exec,
    ("POST", "/v1/read"): read_file,
    ("POST", "/v1/write"): write_file,
    ("POST", "/v1/list"): list_dir,
    ("POST", "/v1/diff"): diff,
}
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
REASONS.update({411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error"})


def read_request(rfile: Any) -> Optional[Tuple[str, str, Dict[str, str], bytes]]:
    """(method, path, headers, body) of the next request, or None at end of stream."""
    line = rfile.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise Refused(400, "bad_request", "malformed request line")
    headers = {}
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        raise Refused(411, "length_required", "chunked bodies are not supported")
    length = int(headers.get("content-length") or 0)
    if length > MAX_BODY:
        raise Refused(413, "too_large", "request body over %d bytes" % MAX_BODY)
    return parts[0], parts[1], headers, rfile.read(length) if length else b""


def respond(wfile: Any, status: int, body: Json) -> None:
    data = json.dumps(body).encode("utf-8")
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    wfile.write((head % (status, REASONS.get(status, "Error"), len(data))).encode("latin-1") + data)
    wfile.flush()


def dispatch(cfg: Config, method: str, path: str, headers: Dict[str, str], body: bytes) -> Json:
    from _operator import _compare_digest  # what hmac.compare_digest is, without importing hashlib

    given = headers.get("authorization", "")
    if not _compare_digest(given.encode(), ("Bearer " + cfg.token).encode()):
        raise Refused(401, "unauthorized", "missing or wrong environment token")
    handler = ROUTES.get((method, path.split("?")[0]))
    if handler is None:
        raise Refused(404, "no_route", "no route %s %s" % (method, path))
    try:
        req = json.loads(body.decode("utf-8")) if body else {}
    except ValueError:
        raise Refused(400, "bad_json", "request body is not JSON") from None
    if not isinstance(req, dict):
        raise Refused(400, "bad_json", "request body is not a JSON object")
    return handler(cfg, req)


def serve_connection(cfg: Config, conn: socket.socket) -> None:
    rfile, wfile = conn.makefile("rb"), conn.makefile("wb")
    try:
        while True:
            try:
                request = read_request(rfile)
                if request is None:
                    return
                status, body = 200, dispatch(cfg, *request)
            except Refused as exc:
                status, body = exc.status, {"error": exc.code, "message": exc.message}
            except Exception as exc:  # a bug must not kill the server: report it
                status, body = 500, {"error": "internal", "message": "%s: %s" % (type(exc).__name__, exc)}
            respond(wfile, status, body)
    except OSError:
        return
    finally:
        for item in (rfile, wfile, conn):
            with suppress(OSError):
                item.close()


def listen(args: List[str]) -> Tuple[socket.socket, str]:
    if "--unix" in args:
        path = args[args.index("--unix") + 1]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o600)
        where = path
    else:
        host = args[args.index("--host") + 1] if "--host" in args else "0.0.0.0"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(args[args.index("--port") + 1])))
        where = "%s:%d" % sock.getsockname()[:2]
    sock.listen(128)
    return sock, where


def option(args: List[str], name: str, default: str = "") -> str:
    return args[args.index(name) + 1] if name in args else default


def load_token(args: List[str]) -> str:
    if "--token-stdin" in args:
        return sys.stdin.readline().strip()
    if "--token-file" in args:
        with open(option(args, "--token-file")) as handle:
            return handle.read().strip()
    return os.environ.pop("ENVFARM_RUNTIME_TOKEN", "")


def parse_limits(args: List[str]) -> Dict[str, int]:
    names = {"--nproc": "RLIMIT_NPROC", "--mem-bytes": "RLIMIT_AS", "--fsize-bytes": "RLIMIT_FSIZE"}
    limits = {"RLIMIT_CORE": 0}
    for flag, name in names.items():
        if flag in args:
            limits[name] = int(option(args, flag))
    return limits


def config_from(args: List[str]) -> Config:
    token = load_token(args)
    if not token:
        sys.stderr.write(
            "envfarm runtime: no token given (--token-stdin, --token-file, ENVFARM_RUNTIME_TOKEN)\n"
        )
        sys.exit(2)
    workspace = os.path.abspath(option(args, "--workspace", os.getcwd()))
    roots = [workspace] + [r for r in option(args, "--extra-roots").split(":") if r]
    max_output = int(option(args, "--max-output", str(1024 * 1024)))
    return Config(
        token, workspace, roots, option(args, "--base-commit") or None, parse_limits(args), max_output
    )


def preload() -> None:
    """Import what exec needs while the client connects: the first command does not pay for it."""
    import resource  # noqa: F401
    import selectors  # noqa: F401
    import subprocess  # noqa: F401


def main(argv: Optional[List[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    cfg = config_from(args)
    sock, where = listen(args)
    signal.signal(signal.SIGTERM, shutdown)
    if "--lifetime-s" in args:
        threading.Thread(target=expire, args=(float(option(args, "--lifetime-s")),), daemon=True).start()
    sys.stdout.write("envfarm-runtime ready %s\n" % where)
    sys.stdout.flush()
    threading.Thread(target=preload, daemon=True).start()
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_connection, args=(cfg, conn), daemon=True).start()


if __name__ == "__main__":
    main()
