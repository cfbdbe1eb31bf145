"""The bubblewrap command line of an environment (pure: no I/O).

What is inside a sandbox: read-only system directories, the few /etc files programs need, a private /tmp
(tmpfs, size-capped), the workspace read-write at ``workdir``, read-only extras (the environment's venv,
its base interpreter, the repository snapshot its git objects borrow from), the runtime file, and the
socket directory. Not the user's home, not envfarm's store, not other workspaces. No network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
ETC_FILES = (
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "resolv.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "alternatives",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "mime.types",
    "gitconfig",
    "pip.conf",
)
RUNTIME_DIR = "/.envfarm"
RUNTIME_FILE = f"{RUNTIME_DIR}/runtime.py"
SOCKET_DIR = f"{RUNTIME_DIR}/run"
SOCKET_NAME = "runtime.sock"


@dataclass(frozen=True)
class Plan:
    """Everything the command line depends on; ``symlinks`` maps e.g. /bin -> usr/bin on merged-/usr hosts."""

    bwrap: str
    workspace: str
    runtime_py: str
    socket_dir: str
    python: str
    runtime_args: list[str]
    workdir: str = "/testbed"
    ro_paths: list[str] = field(default_factory=list)
    symlinks: dict[str, str] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    env: dict[str, str] = field(default_factory=dict)
    tmp_bytes: int = 1024 * 1024 * 1024
    network: bool = False
    rw_paths: list[str] = field(default_factory=list)


def base_env(workdir: str, path_dirs: list[str]) -> dict[str, str]:
    return {
        "PATH": ":".join(
            [*path_dirs, "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        ),
        "HOME": "/tmp",
        # a user name of its own: pytest inside would otherwise take host folders bound under
        # /tmp/pytest-of-<host user>/ for its own old temporary folders and rename them away
        "USER": "envfarm",
        "LOGNAME": "envfarm",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PWD": workdir,
    }


def _system(plan: Plan) -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if path in plan.symlinks:
            args += ["--symlink", plan.symlinks[path], path]
        elif path in plan.present:
            args += ["--ro-bind", path, path]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def build_argv(plan: Plan) -> list[str]:
    """The full bwrap argv that starts the runtime inside the sandbox."""
    args = [plan.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    args += ["--new-session", "--die-with-parent", "--hostname", "envfarm"]
    if plan.network:
        args.append("--share-net")
    args += _system(plan)
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(plan.tmp_bytes), "--tmpfs", "/tmp"]
    for path in plan.ro_paths:
        args += ["--ro-bind", path, path]
    for path in plan.rw_paths:
        args += ["--bind", path, path]
    args += ["--bind", plan.workspace, plan.workdir]
    args += ["--ro-bind", plan.runtime_py, RUNTIME_FILE, "--bind", plan.socket_dir, SOCKET_DIR]
    args += ["--remount-ro", "/", "--clearenv", "--chdir", plan.workdir]
    for key, value in sorted(plan.env.items()):
        args += ["--setenv", key, value]
    socket_path = f"{SOCKET_DIR}/{SOCKET_NAME}"
    return [*args, *runtime_command(plan.python, RUNTIME_FILE, socket_path, plan.workdir, plan.runtime_args)]


def runtime_command(
    python: str, runtime_file: str, socket_path: str, workdir: str, extra: list[str]
) -> list[str]:
    """The command that starts the runtime on a unix socket, its token read from stdin."""
    return [
        python,
        "-S",
        "-I",
        runtime_file,
        "--unix",
        socket_path,
        "--token-stdin",
        "--workspace",
        workdir,
        *extra,
    ]
