"""Raw Kubernetes API calls over the official client: JSON bytes in and out, no model deserialisation.

Every request takes a token from the controller's own bucket (``--qps``/``--burst``) and a slot of the
bounded in-flight pool, and is retried with exponential back-off and jitter on 429, 5xx and connection
errors (honouring Retry-After). An AlreadyExists answer to a create is not an error: the caller adopts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3

from envfarm.errors import ApiError
from envfarm.farm.ratelimit import TokenBucket

log = logging.getLogger(__name__)
Obj = dict[str, Any]
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: Obj
    headers: dict[str, str]


class KubeApi:
    """Synchronous raw calls (use from threads); ``on_request(verb, code)`` feeds the metrics."""

    def __init__(
        self,
        api_client: Any,
        bucket: TokenBucket,
        *,
        inflight: int = 16,
        retries: int = 6,
        timeout_s: float = 30.0,
        on_request: Callable[[str, int], None] | None = None,
    ) -> None:
        self.client = api_client
        api_client.configuration.connection_pool_maxsize = max(inflight + 4, 8)
        api_client.rest_client = type(api_client.rest_client)(api_client.configuration)
        self.bucket = bucket
        self.slots = threading.BoundedSemaphore(inflight)
        self.retries = retries
        self.timeout_s = timeout_s
        self.on_request = on_request or (lambda verb, code: None)
        self.rng = random.Random()

    # ---- one request ---------------------------------------------------------------------------
    def _url(self, path: str, query: dict[str, Any] | None) -> str:
        host = self.client.configuration.host.rstrip("/")
        return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        headers.update(self.client.default_headers)
        self.client.update_params_for_auth(headers, [], ["BearerToken"], "", "", None)
        return headers

    def open(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        """The urllib3 response, unread (for watches)."""
        data = None if body is None else orjson.dumps(body)
        return self.client.rest_client.pool_manager.request(
            method,
            self._url(path, query),
            body=data,
            headers=self._headers(content_type),
            preload_content=False,
            timeout=urllib3.Timeout(connect=10.0, read=timeout or self.timeout_s),
        )

    def once(self, method: str, path: str, **kw: Any) -> Reply:
        self.bucket.acquire()
        with self.slots:
            resp = self.open(method, path, **kw)
            try:
                raw = resp.read()
            finally:
                resp.release_conn()
        self.on_request(VERBS.get(method, method.lower()), resp.status)
        body = orjson.loads(raw) if raw and raw[:1] in (b"{", b"[") else {}
        return Reply(resp.status, body, {k.lower(): v for k, v in resp.headers.items()})

    # ---- with retries --------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200, 201),
        conflict_retry: bool = False,
        **kw: Any,
    ) -> Reply:
        """The reply once it is in ``ok`` (or a 404/409 the caller handles); retries the rest."""
        for n in range(self.retries + 1):
            reply: Reply | None = None
            try:
                got = self.once(method, path, **kw)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                why = str(exc)
            else:
                retry = got.status in RETRY_STATUS or (got.status == 409 and conflict_retry)
                if got.status in ok or not retry:
                    return got
                reply, why = got, f"{got.status} {got.body.get('message', '')}"
            if n == self.retries:
                status = reply.status if reply is not None else 0
                raise ApiError(f"{method} {path}: gave up after {n + 1} tries: {why}", status=status)
            time.sleep(self.delay(n, reply))
        raise AssertionError("unreachable")

    def delay(self, n: int, reply: Reply | None) -> float:
        """Exponential back-off with full jitter; never shorter than the server's Retry-After."""
        wait = self.rng.uniform(0, min(10.0, 0.1 * 2**n))
        after = (reply.headers.get("retry-after") if reply else None) or ""
        return max(wait, float(after)) if after.replace(".", "", 1).isdigit() else wait


def raise_for(reply: Reply, what: str) -> Obj:
    """The body of a successful reply, else an :class:`ApiError` naming ``what``."""
    if 200 <= reply.status < 300:
        return reply.body
    raise ApiError(
        f"{what}: {reply.status} {reply.body.get('message', '')}",
        status=reply.status,
        reason=str(reply.body.get("reason", "")),
    )
