"""Watch streams: replay from a resourceVersion, live events, bookmarks, timeouts, 410 and dropped links."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from envfarm.kubesim import jsonio
from envfarm.kubesim.faults import Faults, should_fail
from envfarm.kubesim.httpserver import ChunkWriter
from envfarm.kubesim.resources import ResourceType
from envfarm.kubesim.selectors import Requirement, match_fields, match_labels
from envfarm.kubesim.store import Event, Obj, Store

MAX_QUEUE = 200_000


@dataclass
class WatchParams:
    rt: ResourceType
    ns: str | None
    labels: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    resource_version: str
    timeout_s: float
    bookmarks: bool
    send_initial: bool
    as_table: Callable[[Obj], Obj] | None = None  # kubectl get -w: each object becomes a one-row Table


def gone_line(rv: str) -> bytes:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv}",
        "reason": "Expired",
        "code": 410,
    }
    return jsonio.dumps({"type": "ERROR", "object": status}) + b"\n"


class Watcher:
    """One watch stream's filter and queue of encoded lines."""

    def __init__(self, params: WatchParams) -> None:
        self.p = params
        self.queue: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.dropped = False
        self.overflow = False
        self._plain = not params.labels and not params.fields

    def matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.p.ns is not None and self.p.rt.namespaced and obj["metadata"].get("namespace") != self.p.ns:
            return False
        return match_labels(self.p.labels, obj["metadata"].get("labels")) and match_fields(self.p.fields, obj)

    def kind_of(self, event: Event) -> str | None:
        """The event type this watcher sees (selectors turn moves in and out into ADDED/DELETED)."""
        if self._plain and self.p.ns is None:
            return event.type
        now_ok = event.type != "DELETED" and self.matches(event.obj)
        was_ok = event.type != "ADDED" and self.matches(event.old)
        if now_ok:
            return "MODIFIED" if was_ok else "ADDED"
        return "DELETED" if was_ok else None

    def offer(self, event: Event) -> None:
        etype = self.kind_of(event)
        if etype is None:
            return
        self.queue.append(self.line(etype, event))
        if len(self.queue) > MAX_QUEUE:
            self.overflow = True
        self.wake.set()

    def line(self, etype: str, event: Event) -> bytes:
        if self.p.as_table is not None:
            return jsonio.dumps({"type": etype, "object": self.p.as_table(event.obj)}) + b"\n"
        if etype == event.type:
            return event.line()
        return jsonio.dumps({"type": etype, "object": event.obj}) + b"\n"

    def drop(self) -> None:
        self.dropped = True
        self.wake.set()


class WatchHub:
    """Starts and serves watch streams; ``drop_all`` cuts every open one (a network fault)."""

    def __init__(
        self, store: Store, faults: Faults, bookmark_interval_s: float = 1.0, max_timeout_s: float = 1800
    ) -> None:
        self.store = store
        self.faults = faults
        self.bookmark_interval_s = bookmark_interval_s
        self.max_timeout_s = max_timeout_s
        self.active: set[Watcher] = set()

    def drop_all(self) -> int:
        for watcher in list(self.active):
            watcher.drop()
        return len(self.active)

    def _initial(self, watcher: Watcher, rt: ResourceType) -> None:
        for obj in self.store.items(rt, watcher.p.ns if rt.namespaced else None):
            if watcher.matches(obj):
                watcher.queue.append(watcher.line("ADDED", Event("ADDED", 0, obj, None)))

    def open(self, params: WatchParams) -> Watcher | bytes:
        """Register a watcher with its replay queued, or return the 410 line when too old."""
        watcher = Watcher(params)
        rv = params.resource_version
        if rv in ("", "0") or params.send_initial:
            self._initial(watcher, params.rt)
        else:
            events = self.store.since(params.rt, int(rv) if rv.isdigit() else -1)
            if events is None:
                return gone_line(rv)
            for event in events:
                watcher.offer(event)
        if params.send_initial and params.bookmarks:
            watcher.queue.append(self._bookmark(params.rt, initial_end=True))
        self.store.bucket(params.rt).watchers.add(watcher)
        self.active.add(watcher)
        return watcher

    def _bookmark(self, rt: ResourceType, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(self.store.rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            jsonio.dumps(
                {
                    "type": "BOOKMARK",
                    "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta},
                }
            )
            + b"\n"
        )

    async def serve(self, watcher: Watcher, out: ChunkWriter) -> None:
        try:
            await self._pump(watcher, out)
        finally:
            self.store.bucket(watcher.p.rt).watchers.discard(watcher)
            self.active.discard(watcher)

    async def _pump(self, watcher: Watcher, out: ChunkWriter) -> None:
        timeout = min(watcher.p.timeout_s or self.max_timeout_s, self.max_timeout_s)
        deadline = time.monotonic() + timeout
        sent = 0
        while not out.closing:
            if watcher.dropped or watcher.overflow:
                out.abort()
                return
            if watcher.queue:
                batch = list(watcher.queue)
                watcher.queue.clear()
                keep = self._keep_before_drop(sent, len(batch))
                await out.write(b"".join(batch[:keep]))
                sent += keep
                if keep < len(batch):
                    out.abort()
                    return
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            watcher.wake.clear()
            try:
                await asyncio.wait_for(watcher.wake.wait(), min(left, self.bookmark_interval_s))
            except TimeoutError:
                if watcher.p.bookmarks and time.monotonic() < deadline:
                    await out.write(self._bookmark(watcher.p.rt))

    def _keep_before_drop(self, sent: int, batch: int) -> int:
        """How many of a batch to send before the connection drops (``batch``: no drop)."""
        after = self.faults.watch_drop_after
        if after > 0 and sent + batch > after:
            return max(0, after - sent)
        return 0 if should_fail(self.faults.watch_drop_rate) else batch
