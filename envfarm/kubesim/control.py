"""/kubesim/* endpoints: switch faults, read request counters, drop watches, lose nodes, at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from envfarm.errors import ApiError
from envfarm.kubesim.httpserver import Request, Response
from envfarm.kubesim.routes import json_reply
from envfarm.kubesim.server import json_body

if TYPE_CHECKING:
    from envfarm.kubesim.sim import KubeSim


def stats(sim: KubeSim) -> dict[str, object]:
    """Request counters, write totals and object counts."""
    objects = {key: len(bucket.objects) for key, bucket in sim.store.buckets.items() if bucket.objects}
    return {
        "requests": sim.counters.as_rows(),
        "writes": sim.counters.writes(),
        "total": sim.counters.total(),
        "objects": objects,
        "resourceVersion": sim.store.rv,
        "watches": len(sim.hub.active),
    }


def install_controls(sim: KubeSim) -> None:
    """Register the control endpoints on the simulator's server."""

    async def faults(req: Request) -> Response:
        if req.method in ("PUT", "POST", "PATCH"):
            sim.faults.update(json_body(req))
        return json_reply(200, sim.faults.as_dict())

    async def stats_endpoint(req: Request) -> Response:
        if req.method == "DELETE":
            sim.counters.reset()
        return json_reply(200, stats(sim))

    async def drop_watches(req: Request) -> Response:
        return json_reply(200, {"dropped": sim.drop_watches()})

    async def lose_node(req: Request) -> Response:
        name = _node(req, sim)
        sim.lose_node(name)
        return json_reply(200, {"lost": name})

    async def restore_node(req: Request) -> Response:
        name = _node(req, sim)
        sim.restore_node(name)
        return json_reply(200, {"restored": name})

    sim.server.controls.update(
        {
            "faults": faults,
            "stats": stats_endpoint,
            "drop-watches": drop_watches,
            "lose-node": lose_node,
            "restore-node": restore_node,
        }
    )


def _node(req: Request, sim: KubeSim) -> str:
    name = req.query.get("name") or str(json_body(req).get("name", ""))
    nodes_rt = sim.core.registry.lookup("", "v1", "nodes")
    if not name or sim.store.get(nodes_rt, "", name) is None:
        raise ApiError(f'nodes "{name}" not found', status=404, reason="NotFound")
    return name
