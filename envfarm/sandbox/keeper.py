"""The process that holds one CLI environment (``envfarm env up``) until ``env down`` or its wall time.

bwrap runs with --die-with-parent, so the sandbox needs a parent that outlives the CLI command: this is it.
``python -m envfarm.sandbox.keeper ENV_DIR`` reads ENV_DIR/spec.json, starts the sandbox, writes
ENV_DIR/env.json (socket, token: mode 0600) and waits; SIGTERM stops the sandbox and removes ENV_DIR.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

from envfarm.sandbox.local import LocalSandbox, SandboxSpec
from envfarm.sandbox.workspace import checkout_workspace

log = logging.getLogger(__name__)


async def keep(env_dir: Path) -> None:
    meta = json.loads((env_dir / "meta.json").read_text())
    spec = SandboxSpec.model_validate_json((env_dir / "spec.json").read_text())
    box = LocalSandbox(spec, name=env_dir.name, unsafe=bool(meta.get("unsafe")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.to_thread(checkout_workspace, spec.workspace, meta["base_commit"])
        await box.start()
        state = {**meta, "socket": str(box.socket_path), "token": box.token, "pid": os.getpid()}
        fd = os.open(env_dir / "env.json.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle)
        os.replace(env_dir / "env.json.tmp", env_dir / "env.json")
        await asyncio.wait_for(stop.wait(), spec.limits.wall_time_s)
    except TimeoutError:
        log.warning("environment %s reached its wall time", env_dir.name)
    finally:
        await box.stop()
        shutil.rmtree(env_dir, ignore_errors=True)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(keep(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
