"""Object storage: one bucket per resource, a global resourceVersion, an event ring buffer per bucket.

Stored objects are plain dicts that are never mutated once stored: writers build a new dict (sharing
unchanged sub-dicts) and ``put`` it. So an event can hold the object itself, and each event's JSON line
is encoded once and shared by every watcher.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from envfarm.kubesim import jsonio
from envfarm.kubesim.resources import ResourceType

Obj = dict[str, Any]
Key = tuple[str, str]


class Event:
    """One change: ADDED, MODIFIED or DELETED, with the object before (``old``) and after."""

    __slots__ = ("_line", "obj", "old", "rv", "type")

    def __init__(self, etype: str, rv: int, obj: Obj, old: Obj | None) -> None:
        self.type = etype
        self.rv = rv
        self.obj = obj
        self.old = old
        self._line: bytes | None = None

    def line(self) -> bytes:
        """The watch-stream line for this event, encoded once."""
        if self._line is None:
            self._line = jsonio.dumps({"type": self.type, "object": self.obj}) + b"\n"
        return self._line


class Subscriber(Protocol):
    def offer(self, event: Event) -> None: ...


Listener = Callable[[ResourceType, Event], None]


class Bucket:
    """The objects of one resource and the window of their recent events."""

    __slots__ = ("events", "horizon", "objects", "watchers")

    def __init__(self, window: int) -> None:
        self.objects: dict[Key, Obj] = {}
        self.events: deque[Event] = deque(maxlen=window)
        self.horizon = 0  # events with rv <= horizon are no longer retained
        self.watchers: set[Subscriber] = set()

    def record(self, event: Event) -> None:
        if self.events.maxlen is not None and len(self.events) == self.events.maxlen:
            self.horizon = self.events[0].rv
        self.events.append(event)
        for watcher in list(self.watchers):
            watcher.offer(event)


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


class Store:
    """All objects, the global resourceVersion, and change notification."""

    def __init__(self, window: int = 10_000, first_rv: int = 1000) -> None:
        self.rv = first_rv
        self.window = window
        self.buckets: dict[str, Bucket] = {}
        self.listeners: list[Listener] = []

    def bucket(self, rt: ResourceType) -> Bucket:
        found = self.buckets.get(rt.key)
        if found is None:
            found = self.buckets[rt.key] = Bucket(self.window)
        return found

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj | None:
        return self.bucket(rt).objects.get((ns if rt.namespaced else "", name))

    def items(self, rt: ResourceType, ns: str | None = None) -> Iterator[Obj]:
        objects = self.bucket(rt).objects
        if ns is None or not rt.namespaced:
            yield from list(objects.values())
        else:
            yield from [o for (n, _), o in list(objects.items()) if n == ns]

    def count(self, rt: ResourceType) -> int:
        return len(self.bucket(rt).objects)

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a new version of ``obj`` (a fresh dict), stamping a new resourceVersion."""
        self.rv += 1
        obj["metadata"] = {**obj["metadata"], "resourceVersion": str(self.rv)}
        bucket = self.bucket(rt)
        key = key_of(obj)
        old = bucket.objects.get(key)
        bucket.objects[key] = obj
        self._emit(rt, bucket, Event("MODIFIED" if old is not None else "ADDED", self.rv, obj, old))
        return obj

    def remove(self, rt: ResourceType, ns: str, name: str) -> Obj | None:
        """Remove an object for good; watchers see DELETED with a new resourceVersion."""
        bucket = self.bucket(rt)
        old = bucket.objects.pop((ns if rt.namespaced else "", name), None)
        if old is None:
            return None
        self.rv += 1
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.rv)}}
        self._emit(rt, bucket, Event("DELETED", self.rv, gone, old))
        return gone

    def drop_bucket(self, rt: ResourceType) -> None:
        """Forget a whole resource (its CRD was deleted)."""
        for obj in list(self.bucket(rt).objects.values()):
            self.remove(rt, *key_of(obj))

    def _emit(self, rt: ResourceType, bucket: Bucket, event: Event) -> None:
        bucket.record(event)
        for listener in self.listeners:
            listener(rt, event)

    def since(self, rt: ResourceType, rv: int) -> list[Event] | None:
        """Events after ``rv``, or None when some of them are no longer retained (410 Gone)."""
        bucket = self.bucket(rt)
        if rv < bucket.horizon:
            return None
        return [e for e in bucket.events if e.rv > rv]
