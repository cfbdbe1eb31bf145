"""Faults switched at run time: 429 with Retry-After, injected 500s, slow answers; request counters."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from kubernetes import client

from envfarm.testing.kubesim import KubeSimThread


def test_429_has_retry_after_and_client_honours_it(ks: KubeSimThread) -> None:
    ks.call(ks.sim.faults.update, {"max_qps": 5, "burst": 1, "retry_after_s": 1})
    url = ks.sim.url + "/api/v1/namespaces/default/configmaps"
    with httpx.Client() as http:
        codes = [http.get(url) for _ in range(3)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["reason"] == "TooManyRequests"
    conf = client.Configuration()
    conf.host = ks.sim.url
    conf.client_go_retries = True
    v1 = client.CoreV1Api(client.ApiClient(conf))
    start = time.monotonic()
    for _ in range(3):
        v1.list_namespaced_config_map("default")  # retried after Retry-After, never raises
    assert time.monotonic() - start >= 0.9
    assert any(r["code"] == 429 and r["verb"] == "list" for r in ks.sim.counters.as_rows())


def test_injected_500s_and_latency(ks: KubeSimThread, v1: Any) -> None:
    ks.call(ks.sim.faults.update, {"error_rate": 1.0})
    with pytest.raises(client.ApiException) as err:
        v1.list_namespaced_pod("default")
    assert err.value.status == 500
    ks.call(ks.sim.faults.update, {"error_rate": 0.0, "latency_s": 0.3})
    start = time.monotonic()
    v1.list_namespaced_pod("default")
    assert time.monotonic() - start >= 0.3


def test_faults_and_stats_over_http(ks: KubeSimThread) -> None:
    with httpx.Client(base_url=ks.sim.url) as http:
        assert http.put("/kubesim/faults", json={"error_rate": 0.5}).json()["error_rate"] == 0.5
        assert http.put("/kubesim/faults", json={"nonsense": 1}).status_code == 400
        http.put("/kubesim/faults", json={"error_rate": 0})
        http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "a"}})
        http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "a"}})
        stats = http.get("/kubesim/stats").json()
        assert stats["writes"] == 2 and stats["objects"]["/configmaps"] == 1
        assert (
            'apiserver_request_total{verb="create",resource="configmaps",code="409"} 1'
            in http.get("/metrics").text
        )
