"""A label-scoped informer: list, then watch from the list's resourceVersion; resume after a dropped
connection, relist on 410 Gone, follow bookmarks. Raw JSON lines are parsed and reduced by ``slim`` at
once, so only what the controller needs is kept (managedFields never are).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
import urllib3

from envfarm.errors import ApiError
from envfarm.farm.kube.api import KubeApi, raise_for

log = logging.getLogger(__name__)
T = TypeVar("T")
Obj = dict[str, Any]
WATCH_TIMEOUT_S = 240


class Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class Informer(Generic[T]):
    """Keeps ``items`` (key -> slim object) in step with the API; ``notify`` is called after changes."""

    def __init__(
        self,
        api: KubeApi,
        path: str,
        slim: Callable[[Obj], T | None],
        *,
        selector: str = "",
        notify: Callable[[], None] = lambda: None,
        name: str = "informer",
    ) -> None:
        self.api, self.path, self.slim, self.selector = api, path, slim, selector
        self.notify, self.name = notify, name
        self.items: dict[str, T] = {}
        self.lock = threading.Lock()
        self.rv = ""
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.relists = 0
        self.resumes = 0
        self._thread: threading.Thread | None = None
        self._resp: Any = None

    def start(self) -> Informer[T]:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # the connection may be half gone already
                log.debug("informer %s: shutdown", self.name, exc_info=True)
        if self._thread is not None:
            self._thread.join(5)

    def snapshot(self) -> list[T]:
        with self.lock:
            return list(self.items.values())

    # ---- loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                if not self.rv:
                    self.list()
                self.watch()
                failures = 0
            except Gone:
                log.info("informer %s: 410 Gone at %s, relisting", self.name, self.rv)
                self.rv = ""
            except (ApiError, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                failures += 1
                if not self.stopping.is_set():
                    log.info("informer %s: %s; resuming from %s", self.name, exc, self.rv or "a relist")
                    time.sleep(min(5.0, 0.1 * 2**failures))

    def _query(self, **extra: Any) -> dict[str, Any]:
        query: dict[str, Any] = {"labelSelector": self.selector} if self.selector else {}
        query.update(extra)
        return query

    def list(self) -> None:
        reply = self.api.call("GET", self.path, query=self._query())
        body = raise_for(reply, f"list {self.path}")
        fresh: dict[str, T] = {}
        for raw in body.get("items") or ():
            item = self.slim(raw)
            if item is not None:
                fresh[_key(raw)] = item
        with self.lock:
            self.items = fresh
        self.rv = str((body.get("metadata") or {}).get("resourceVersion", ""))
        self.relists += 1
        self.synced.set()
        self.notify()

    def watch(self) -> None:
        query = self._query(
            watch="true", resourceVersion=self.rv, allowWatchBookmarks="true", timeoutSeconds=WATCH_TIMEOUT_S
        )
        self.api.bucket.acquire()
        resp = self._resp = self.api.open("GET", self.path, query=query, timeout=WATCH_TIMEOUT_S + 30)
        try:
            self.api.on_request("watch", resp.status)
            if resp.status == 410:
                raise Gone()
            if resp.status != 200:
                raise ApiError(f"watch {self.path}: {resp.status}", status=resp.status)
            self._stream(resp)
            self.resumes += 1
        finally:
            self._resp = None
            resp.release_conn()

    def _stream(self, resp: Any) -> None:
        pending = b""
        for chunk in resp.stream(65536, decode_content=False):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            changed = False
            for line in lines:
                if line.strip():
                    changed = self.event(orjson.loads(line)) or changed
            if changed:
                self.notify()
            if self.stopping.is_set():
                return

    def event(self, ev: Obj) -> bool:
        kind, obj = ev.get("type"), ev.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ApiError(f"watch {self.path}: {obj.get('message', obj)}", status=int(obj.get("code") or 0))
        self.rv = str((obj.get("metadata") or {}).get("resourceVersion", self.rv))
        if kind == "BOOKMARK":
            return False
        key = _key(obj)
        item = None if kind == "DELETED" else self.slim(obj)
        with self.lock:
            if item is None:
                self.items.pop(key, None)
            else:
                self.items[key] = item
        return True


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
