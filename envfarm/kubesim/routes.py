"""HTTP front of the API: resource requests with faults, counters, tables, watches, logs and bindings."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any, Protocol

from envfarm.errors import ApiError
from envfarm.kubesim import jsonio, paths, podstatus, tables
from envfarm.kubesim.core import ApiCore
from envfarm.kubesim.faults import Counters, Faults, RateLimiter, should_fail
from envfarm.kubesim.httpserver import ChunkWriter, Request, Response, StreamResponse
from envfarm.kubesim.objects import REASONS
from envfarm.kubesim.paths import Target
from envfarm.kubesim.selectors import parse_selector
from envfarm.kubesim.store import Obj
from envfarm.kubesim.watch import WatchHub, WatchParams

log = logging.getLogger(__name__)
Reply = Response | StreamResponse


class LogSource(Protocol):
    """Where pods/log reads container output from (the kubelet that runs the pod)."""

    def logs(self, pod: Obj, container: str) -> bytes: ...

    async def follow(self, pod: Obj, container: str, out: ChunkWriter) -> None: ...


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, jsonio.dumps(body), headers=headers or {})


def status_reply(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    code = exc.status or 500
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": str(exc),
        "reason": exc.reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    return json_reply(code, body, headers)


def _encode_continue(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(jsonio.dumps(list(key))).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        ns, name = jsonio.loads(base64.urlsafe_b64decode(token.encode()))
        return str(ns), str(name)
    except (ValueError, TypeError) as exc:
        raise ApiError(f"continue key is not valid: {exc}", status=400, reason="BadRequest") from exc


class Router:
    """Turns HTTP requests into API verbs on :class:`ApiCore`."""

    def __init__(
        self, core: ApiCore, hub: WatchHub, faults: Faults, counters: Counters, logs: LogSource
    ) -> None:
        self.core = core
        self.hub = hub
        self.faults = faults
        self.counters = counters
        self.logs = logs
        self.limiter = RateLimiter(faults)

    async def handle(self, req: Request) -> Reply:
        verb, resource = "unknown", req.path
        try:
            target = paths.parse(req.path, self.core.registry)
            verb, resource = paths.verb(req.method, target, req.query), target.resource
            reply = await self._guarded(req, target, verb)
        except ApiError as exc:
            reply = status_reply(exc)
        self.counters.add(verb, resource, reply.status)
        return reply

    async def _guarded(self, req: Request, target: Target, verb: str) -> Reply:
        if self.faults.latency_s > 0:
            await asyncio.sleep(self.faults.latency_s)
        if not self.limiter.allow():
            retry = str(self.faults.retry_after_s)
            exc = ApiError("Too many requests, please try again later.", status=429, reason="TooManyRequests")
            return status_reply(exc, {"Retry-After": retry})
        if verb != "watch" and should_fail(self.faults.error_rate):
            raise ApiError("Internal error occurred: injected fault", status=500, reason="InternalError")
        if req.body and "protobuf" in req.headers.get("content-type", ""):
            msg = "the body of the request was in an unknown format - accepted media types include: "
            msg += "application/json"
            raise ApiError(msg, status=415, reason="UnsupportedMediaType")
        return await self._dispatch(req, target, verb)

    async def _dispatch(self, req: Request, t: Target, verb: str) -> Reply:
        ns = t.ns or ""
        if verb == "get":
            if t.sub == "log":
                return await self._log(req, t)
            return self._out(req, t, self.core.get(t.rt, ns, t.name))
        if verb == "list":
            return self._list(req, t)
        if verb == "watch":
            return self._watch(req, t)
        if verb == "create":
            return self._create(req, t)
        if verb == "update":
            return self._out(req, t, self.core.update(t.rt, ns, t.name, _body(req), t.sub))
        if verb == "patch":
            ctype = req.headers.get("content-type", "")
            return self._out(req, t, self.core.patch(t.rt, ns, t.name, req.body, ctype, t.sub))
        if verb == "delete":
            return self._out(req, t, self.core.delete(t.rt, ns, t.name, _delete_opts(req)))
        labels, fields = self._selectors(req)
        items = self.core.delete_collection(t.rt, t.ns, labels, fields, _delete_opts(req))
        return self._list_reply(req, t, items, {})

    def _out(self, req: Request, t: Target, obj: Obj, status: int = 200) -> Response:
        if "as=Table" in req.headers.get("accept", "") and not t.sub:
            return json_reply(
                status,
                tables.table(t.rt, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")}),
            )
        return json_reply(status, obj)

    @staticmethod
    def _selectors(req: Request) -> tuple[Any, Any]:
        return parse_selector(req.query.get("labelSelector")), parse_selector(
            req.query.get("fieldSelector"), "field"
        )

    def _list(self, req: Request, t: Target) -> Response:
        labels, fields = self._selectors(req)
        items = self.core.list_objects(t.rt, t.ns, labels, fields)
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        meta: Obj = {}
        if req.query.get("continue"):
            after = _decode_continue(req.query["continue"])
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        limit = int(req.query.get("limit") or 0)
        if 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            meta = {
                "continue": _encode_continue((last.get("namespace", ""), last["name"])),
                "remainingItemCount": len(items) - limit,
            }
            items = items[:limit]
        return self._list_reply(req, t, items, meta)

    def _list_reply(self, req: Request, t: Target, items: list[Obj], meta: Obj) -> Response:
        meta = {"resourceVersion": str(self.core.store.rv), **meta}
        if "as=Table" in req.headers.get("accept", ""):
            return json_reply(200, tables.table(t.rt, items, meta))
        body = {"kind": f"{t.rt.kind}List", "apiVersion": t.rt.api_version, "metadata": meta, "items": items}
        return json_reply(200, body)

    def _watch(self, req: Request, t: Target) -> StreamResponse:
        labels, fields = self._selectors(req)
        q = req.query
        params = WatchParams(
            t.rt,
            t.ns,
            labels,
            fields,
            q.get("resourceVersion", ""),
            float(q.get("timeoutSeconds") or 0),
            q.get("allowWatchBookmarks", "").lower() in ("true", "1"),
            q.get("sendInitialEvents", "").lower() in ("true", "1"),
        )
        if "as=Table" in req.headers.get("accept", ""):
            params.as_table = lambda obj: tables.table(
                t.rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}
            )
        opened = self.hub.open(params)
        if isinstance(opened, bytes):
            line = opened

            async def gone(out: ChunkWriter) -> None:
                await out.write(line)

            return StreamResponse(200, gone)
        watcher = opened
        return StreamResponse(200, lambda out: self.hub.serve(watcher, out))

    def _create(self, req: Request, t: Target) -> Response:
        ns = t.ns or ""
        if t.sub == "binding" and t.rt.key == "/pods":
            return self._bind(t, _body(req))
        if t.sub == "eviction" and t.rt.key == "/pods":
            opts = _body(req).get("deleteOptions") or {}
            self.core.delete(t.rt, ns, t.name, opts)
            return json_reply(
                201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
            )
        if t.name or t.sub:
            raise ApiError(
                f"method POST is not allowed on {t.resource}", status=405, reason="MethodNotAllowed"
            )
        return self._out(req, t, self.core.create(t.rt, ns, _body(req)), 201)

    def _bind(self, t: Target, body: Obj) -> Response:
        pod = self.core.get(t.rt, t.ns or "", t.name)
        node = (body.get("target") or {}).get("name", "")
        if pod["spec"].get("nodeName"):
            raise ApiError(
                f'pod {t.name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                status=409,
                reason="Conflict",
            )
        if not node:
            raise ApiError("binding target node name is required", status=422, reason="Invalid")
        self.core.store.put(t.rt, podstatus.bind(pod, node))
        return json_reply(
            201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        )

    async def _log(self, req: Request, t: Target) -> Reply:
        pod = self.core.get(t.rt, t.ns or "", t.name)
        names = [c["name"] for c in pod["spec"].get("containers") or ()]
        container = req.query.get("container") or (names[0] if len(names) == 1 else "")
        if container not in names:
            msg = f"a container name must be specified for pod {t.name}, choose one of: {names}"
            raise ApiError(msg, status=400, reason="BadRequest")
        if req.query.get("follow", "").lower() in ("true", "1"):
            return StreamResponse(
                200, lambda out: self.logs.follow(pod, container, out), content_type="text/plain"
            )
        data = self.logs.logs(pod, container)
        tail = req.query.get("tailLines")
        if tail and tail.isdigit():
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail) :]) if int(tail) else b""
        return Response(200, data, content_type="text/plain")


def _body(req: Request) -> Obj:
    try:
        body = jsonio.loads(req.body) if req.body else {}
    except ValueError as exc:
        raise ApiError(f"the request body is not valid JSON: {exc}", status=400, reason="BadRequest") from exc
    if not isinstance(body, dict):
        raise ApiError("the request body must be a JSON object", status=400, reason="BadRequest")
    return body


def _delete_opts(req: Request) -> Obj:
    opts = _body(req) if req.body else {}
    q = req.query
    if "gracePeriodSeconds" in q:
        opts["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
    if "propagationPolicy" in q:
        opts["propagationPolicy"] = q["propagationPolicy"]
    if "orphanDependents" in q:
        opts["orphanDependents"] = q["orphanDependents"].lower() == "true"
    return opts
