"""The HTTP server: discovery, health, metrics and /kubesim control endpoints around the API router."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from envfarm.errors import ApiError, ConfigError
from envfarm.kubesim import discovery, jsonio
from envfarm.kubesim.httpserver import HttpServer, Request, Response
from envfarm.kubesim.routes import Reply, Router, json_reply, status_reply

log = logging.getLogger(__name__)
Control = Callable[[Request], Awaitable[Response]]


def _text(body: str, status: int = 200) -> Response:
    return Response(status, body.encode(), content_type="text/plain; charset=utf-8")


class ApiServer:
    """Serves the API on a loopback port; ``controls`` add /kubesim/NAME endpoints."""

    def __init__(self, router: Router, host: str = "127.0.0.1", port: int = 0) -> None:
        self.router = router
        self.controls: dict[str, Control] = {}
        self.http = HttpServer(self.handle, host, port)
        self.host = host

    @property
    def address(self) -> str:
        return f"{self.host}:{self.http.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    async def handle(self, req: Request) -> Reply:
        path = req.path.rstrip("/") or "/"
        try:
            if path.startswith(("/api/", "/apis/")) and self._is_resource(path):
                return await self.router.handle(req)
            return await self._special(req, path)
        except ApiError as exc:
            return status_reply(exc)
        except ConfigError as exc:
            return status_reply(ApiError(str(exc), status=400, reason="BadRequest"))
        except Exception as exc:
            log.exception("kubesim: %s %s failed", req.method, req.path)
            return status_reply(
                ApiError(f"Internal error occurred: {exc}", status=500, reason="InternalError")
            )

    @staticmethod
    def _is_resource(path: str) -> bool:
        depth = len([p for p in path.split("/") if p])
        return depth >= (3 if path.startswith("/api/") else 4)

    async def _special(self, req: Request, path: str) -> Response:
        if path.startswith("/kubesim/") and path[9:] in self.controls:
            return await self.controls[path[9:]](req)
        if path in ("/healthz", "/readyz", "/livez"):
            return _text("ok")
        if path == "/metrics":
            return _text(self.router.counters.prometheus())
        found = self._discovery(path)
        if found is None:
            raise ApiError(f"the server could not find the requested resource ({path})", status=404)
        return json_reply(200, found)

    def _discovery(self, path: str) -> object | None:
        registry = self.router.core.registry
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return discovery.VERSION
        if path == "/api":
            return discovery.api_versions(self.address)
        if path == "/apis":
            return discovery.group_list(registry)
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(registry, "", parts[1])
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.group(registry, parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(registry, parts[1], parts[2])
        return None


def json_body(req: Request) -> dict[str, object]:
    """The JSON object a control request carries ({} when empty)."""
    if not req.body:
        return {}
    body = jsonio.loads(req.body)
    if not isinstance(body, dict):
        raise ApiError("control request body must be a JSON object", status=400, reason="BadRequest")
    return body
