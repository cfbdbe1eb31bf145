"""The runtime's stdlib shapes and the client's pydantic models agree; the runtime runs on python 3.8."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from envfarm.errors import RuntimeAuthError, RuntimeRequestError, RuntimeUnreachable
from envfarm.sandbox import runtime, wire
from envfarm.sandbox.client import RuntimeClient
from envfarm.sandbox.interpreters import find_python
from envfarm.sandbox.local import RUNTIME_PY


def test_shapes_agree() -> None:
    assert set(runtime.SHAPES) == set(wire.SHAPES)
    for name, model in wire.SHAPES.items():
        assert set(runtime.SHAPES[name]) == set(model.model_fields), name
    assert runtime.API_VERSION == wire.API_VERSION


def _python38() -> str:
    try:
        return str(find_python("3.8").executable)
    except Exception:
        pytest.skip("python 3.8 is not installed here")


@pytest.fixture
def runtime38(tmp_path: Path) -> object:
    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    sock = tmp_path / "rt.sock"
    argv = [
        _python38(),
        "-S",
        "-I",
        str(RUNTIME_PY),
        "--unix",
        str(sock),
        "--token-stdin",
        "--workspace",
        str(ws),
    ]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin and proc.stdout
    proc.stdin.write(b"secret\n")
    proc.stdin.close()
    assert proc.stdout.readline().startswith(b"envfarm-runtime ready")
    yield sock, ws
    proc.kill()
    proc.wait()
    proc.stdout.close()


async def test_runtime_on_python38(runtime38: tuple[Path, Path]) -> None:
    sock, ws = runtime38
    async with RuntimeClient("secret", unix_socket=str(sock)) as rt:
        health = await rt.health()
        assert health.python.startswith("3.8.") and health.version == "1"
        res = await rt.exec(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert (res.exit_code, res.stdout, res.stderr) == (4, "out\n", "err\n")
        assert (await rt.exec("cat", stdin="piped")).stdout == "piped"
        await rt.write("dir/a.txt", "hello")
        assert await rt.read("dir/a.txt") == b"hello"
        assert [e.name for e in (await rt.list("dir")).entries] == ["a.txt"]
        assert b"+hello" in await rt.diff("4b825dc642cb6eb9a060e54bf8d69288fbee4904")  # the empty tree
        with pytest.raises(RuntimeRequestError) as info:
            await rt.read("missing.txt")
        assert info.value.code == "not_found"
    async with RuntimeClient("wrong", unix_socket=str(sock)) as bad:
        with pytest.raises(RuntimeAuthError):
            await bad.health()
    assert (ws / "dir" / "a.txt").read_text() == "hello"


async def test_unreachable_runtime_is_retried_then_typed(tmp_path: Path) -> None:
    async with RuntimeClient("t", unix_socket=str(tmp_path / "none.sock"), retries=2) as rt:
        started = asyncio.get_running_loop().time()
        with pytest.raises(RuntimeUnreachable, match="did not answer"):
            await rt.exec("true")
        assert asyncio.get_running_loop().time() - started >= 0.05 + 0.1  # two backed-off retries


def test_runtime_file_is_stdlib_only() -> None:
    imports = [
        line.split()[1] for line in RUNTIME_PY.read_text().splitlines() if line.strip().startswith("import ")
    ]
    allowed = {"base64", "errno", "json", "os", "signal", "socket", "sys", "threading", "time", "resource"}
    assert set(imports) <= allowed | {"selectors", "subprocess", "shutil", "tempfile"}
    assert shutil.which("git")
