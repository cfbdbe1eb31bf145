"""Every attack of issue 3 against a real bubblewrap sandbox: refused or bounded, the host unchanged."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

import httpx
import pytest

from envfarm.errors import CommandTimeout, OutputTooLarge, RuntimeAuthError, RuntimeRequestError
from envfarm.sandbox.local import LocalSandbox

pytestmark = pytest.mark.timeout(60)


async def test_write_outside_workspace_is_refused(sandbox: LocalSandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    with pytest.raises(RuntimeRequestError, match="outside the writable roots"):
        await sandbox.write(f"../{outside.name}", "pwned")
    with pytest.raises(RuntimeRequestError):
        await sandbox.write("/usr/pwned", "pwned")
    for cmd in (f"echo pwned > {outside}", "echo pwned > /usr/pwned", "touch /etc/pwned", "mkdir /pwned"):
        res = await sandbox.exec(cmd)
        assert res.exit_code != 0, cmd
        assert any(why in res.stderr for why in ("Read-only", "No such file", "nonexistent")), res.stderr
    assert not outside.exists() and not Path("/usr/pwned").exists() and not Path("/etc/pwned").exists()


async def test_symlink_in_workspace_cannot_redirect_a_write(sandbox: LocalSandbox, tmp_path: Path) -> None:
    await sandbox.exec(f"ln -s {tmp_path} escape")
    with pytest.raises(RuntimeRequestError, match="outside"):
        await sandbox.write("escape/x.txt", "pwned")
    assert not (tmp_path / "x.txt").exists()


async def test_home_is_not_visible(sandbox: LocalSandbox, tmp_path: Path) -> None:
    home = Path.home()
    res = await sandbox.exec(f"ls -a {home}; cat {home}/.bashrc {home}/.gitconfig {home}/.ssh/id_rsa")
    assert res.exit_code != 0
    assert "No such file" in res.stderr
    for name in (".bashrc", ".gitconfig"):
        assert name not in res.stdout
    settings_home = os.environ["ENVFARM_HOME"]
    assert (await sandbox.exec(f"ls {settings_home}")).exit_code != 0


async def test_store_and_other_workspaces_are_not_visible(sandbox: LocalSandbox) -> None:
    snapshot_dir = sandbox.spec.ro_paths[0]
    repos_dir = snapshot_dir.parents[3]
    res = await sandbox.exec(f"ls {repos_dir}/mirrors; ls {sandbox.spec.workspace.parent}")
    assert res.exit_code != 0 and "No such file" in res.stderr


async def test_no_network(sandbox: LocalSandbox) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.settimeout(5)
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    code = (
        "import socket\n"
        f"for addr in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2); print('connected', addr)\n"
        "    except OSError as exc:\n"
        "        print('refused', addr, exc.errno)\n"
    )
    res = await sandbox.exec(["python3", "-c", code])
    server.close()
    assert "connected" not in res.stdout and res.stdout.count("refused") == 2
    assert accepted == []


async def test_fork_bomb_is_bounded(sandbox: LocalSandbox) -> None:
    # a bounded bomb: tries 400 sleeping children; the limit (64) must stop it long before
    bomb = "i=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done; wait"
    res = await sandbox.exec(bomb, timeout_s=10, raise_on_timeout=False)
    assert "fork" in res.stderr.lower() or "resource temporarily unavailable" in res.stderr.lower()
    assert (await sandbox.exec("echo alive")).stdout == "alive\n"


async def test_memory_bomb_is_bounded(sandbox: LocalSandbox) -> None:
    code = (
        "blocks = []\nfor _ in range(64):\n    blocks.append(bytearray(32 * 1024 * 1024))\nprint('survived')"
    )
    res = await sandbox.exec(["python3", "-c", code], timeout_s=30)
    assert res.exit_code != 0 and "survived" not in res.stdout
    assert "MemoryError" in res.stderr or res.exit_code == -9


async def test_never_ending_command_is_killed_with_its_group(sandbox: LocalSandbox) -> None:
    with pytest.raises(CommandTimeout, match="ran past"):
        await sandbox.exec("sleep 1000 & sleep 1000", timeout_s=0.5)
    res = await sandbox.exec("ps -eo comm | grep -c '^sleep' || true")
    assert res.stdout.strip() == "0"


async def test_huge_output_is_truncated(sandbox: LocalSandbox) -> None:
    res = await sandbox.exec("head -c 100000000 /dev/zero | tr '\\0' x; echo done >&2", timeout_s=30)
    assert res.exit_code == 0 and res.stdout_truncated
    assert len(res.stdout) == sandbox.spec.limits.output_bytes
    assert res.stderr == "done\n" and not res.stderr_truncated


async def test_huge_file_read_is_refused(sandbox: LocalSandbox) -> None:
    await sandbox.exec("head -c 2000000 /dev/zero > big.bin")
    with pytest.raises(OutputTooLarge, match="over the limit"):
        await sandbox.read("big.bin")


async def test_file_size_limit(sandbox: LocalSandbox) -> None:
    res = await sandbox.exec("head -c 40000000 /dev/zero > huge.bin", timeout_s=30)
    assert res.exit_code != 0
    assert (sandbox.spec.workspace / "huge.bin").stat().st_size <= 16 * 1024 * 1024


async def test_request_without_token_gets_401(sandbox: LocalSandbox) -> None:
    transport = httpx.AsyncHTTPTransport(uds=str(sandbox.socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://runtime") as raw:
        assert (await raw.post("/v1/exec", json={"cmd": "touch pwned"})).status_code == 401
        wrong = {"Authorization": "Bearer " + "0" * 32}
        assert (await raw.get("/v1/health", headers=wrong)).status_code == 401
    assert not (sandbox.spec.workspace / "pwned").exists()
    from envfarm.sandbox.client import RuntimeClient

    async with RuntimeClient("wrong", unix_socket=str(sandbox.socket_path)) as bad:
        with pytest.raises(RuntimeAuthError):
            await bad.health()


async def test_future_history_is_not_there(sandbox: LocalSandbox) -> None:
    fix_commit = "9d1e5e9f39e9e4f4df621496ff3156b5e8df5876"  # the gold fix, after the base
    res = await sandbox.exec(f"git cat-file -e {fix_commit}; git log --all --oneline | wc -l; git tag")
    assert res.exit_code == 0 or "fatal" in res.stderr
    assert "v0.2.0" not in res.stdout and res.stdout.split()[0] == "4"
    res = await sandbox.exec("git cat-file --batch-all-objects --batch-check | grep -c commit")
    assert res.stdout.strip() == "4"
