"""Running jobs on the local backend in this process: the controller loop over a :class:`LocalCluster`
until every job it drives has finished, been recorded and had its envs removed.

A run that is interrupted leaves the job file as it was last written; running the same job again
resumes it (the book is rebuilt from the recorded status, as after a controller restart).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence

from envfarm.errors import ClusterError
from envfarm.farm.agents import AgentRunner
from envfarm.farm.book import FINISHED_PHASES
from envfarm.farm.cluster import Obj
from envfarm.farm.controller import Controller, Options
from envfarm.farm.local import LocalCluster
from envfarm.farm.tasks import TaskSource

LOCAL_OPTIONS = Options(status_interval_s=0.5, max_pass_s=0.5)


def finished(obj: Obj | None) -> bool:
    """The job's recorded phase is final (or the job is gone: TTL, deleted)."""
    return obj is None or (obj.get("status") or {}).get("phase") in FINISHED_PHASES


async def run_local(
    cluster: LocalCluster,
    runners: Mapping[str, AgentRunner],
    tasks: TaskSource,
    names: Sequence[str],
    *,
    on_status: Callable[[str, Obj], None] = lambda name, obj: None,
    poll_s: float = 0.2,
    options: Options = LOCAL_OPTIONS,
) -> dict[str, Obj | None]:
    """Drive the jobs ``names`` to their end; returns each job's last object (None once deleted)."""
    controller = Controller(cluster, runners, tasks, options=options)
    cluster.notify = controller.poke
    for name in names:
        cluster.run(name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop().create_task(controller.run(stop))
    try:
        while True:
            last = {name: cluster.store.find(name) for name in names}
            for name, obj in last.items():
                if obj is not None:
                    on_status(name, obj)
            if all(finished(obj) for obj in last.values()) and cluster.idle():
                return last
            if loop.done():
                loop.result()  # the loop only ends on stop: surface its error
                raise ClusterError("the local controller loop ended before its jobs did")
            await asyncio.sleep(poll_s)
    finally:
        stop.set()
        controller.poke()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        await cluster.close()
