"""Prometheus metrics on /metrics (with /healthz and /readyz) for the controller."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """One registry per controller (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.api_requests = Counter(
            "envfarm_api_requests", "Kubernetes API requests", ["verb", "code"], registry=r
        )
        self.pods_created = Counter("envfarm_pods_created", "Env pods created", registry=r)
        self.pods_deleted = Counter("envfarm_pods_deleted", "Env pods deleted", registry=r)
        self.time_to_ready = Histogram(
            "envfarm_env_time_to_ready_seconds",
            "Pod creation to Ready",
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
        )
        self.reconcile = Histogram(
            "envfarm_reconcile_seconds",
            "One plan-and-apply pass",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.queue_depth = Gauge(
            "envfarm_queue_depth", "API writes waiting for a token or a slot", registry=r
        )
        self.tracked_pods = Gauge("envfarm_tracked_pods", "Env pods the informer holds", registry=r)
        self.setup_yield = Gauge("envfarm_setup_yield", "Envs up / envs attempted", ["job"], registry=r)
        self.infra_failures = Counter(
            "envfarm_infra_failures", "Env attempts lost to infrastructure", ["reason"], registry=r
        )
        self.leader = Gauge("envfarm_leader", "1 while this replica holds the lease", registry=r)

    def request(self, verb: str, code: int) -> None:
        self.api_requests.labels(verb, str(code)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """/metrics, /healthz (alive) and /readyz (``ready()`` true) on ``port`` (0: any free port)."""

    def __init__(self, metrics: Metrics, port: int, ready: Callable[[], bool], host: str = "0.0.0.0") -> None:
        handler = _handler(metrics, ready)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(metrics: Metrics, ready: Callable[[], bool]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._reply(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif self.path.startswith("/healthz"):
                self._reply(200, b"ok\n", "text/plain")
            elif self.path.startswith("/readyz"):
                ok = ready()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"not ready\n", "text/plain")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
