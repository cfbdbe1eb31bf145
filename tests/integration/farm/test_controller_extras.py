"""The controller on kubesim: TTL after finish (and owner-reference cleanup of what the job owned),
rate-limited Events, and the Prometheus /metrics, /healthz and /readyz endpoints."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import replace

import pytest
from farm_sim import FAST, Farm

from envfarm.farm import crd


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return int(resp.status), resp.read().decode()


def test_ttl_deletes_the_finished_job_and_what_it_owned(farm: Farm) -> None:
    farm.submit("short", 5, ttl_seconds_after_finished=1)
    path = f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/default/{crd.PLURAL}/short"
    with farm.controller():
        farm.wait("short")
        assert farm.raw("GET", "/api/v1/namespaces/default/secrets/short-runtime")["kind"] == "Secret"
        deadline = time.time() + 15
        while time.time() < deadline and farm.raw("GET", path).get("kind") == crd.KIND:
            time.sleep(0.1)
    assert farm.raw("GET", path).get("code") == 404, "the job is deleted after its TTL"
    assert farm.count("delete", "rolloutjobs") == 1
    deadline = time.time() + 10
    while time.time() < deadline and farm.raw("GET", "/api/v1/namespaces/default/secrets/short-runtime").get(
        "kind"
    ):
        time.sleep(0.1)
    assert farm.raw("GET", "/api/v1/namespaces/default/secrets/short-runtime").get("code") == 404
    assert not farm.pods()


@pytest.mark.parametrize(
    "farm", [replace(FAST, failure_rate=1.0, failure_kinds=("ErrImagePull",))], indirect=True
)
def test_events_are_rate_limited_per_job_and_reason(farm: Farm) -> None:
    # every pod fails to pull its image: 40 samples x 2 attempts = 80 InfraFailure transitions
    farm.submit("pulls", 40, retries=1, retry_backoff_s=0)
    with farm.controller():
        status = farm.wait("pulls", timeout=60)
    assert status["counts"]["infra_errors"] == 40 and status["infra_failures"] == {"image_pull": 80}
    events = farm.raw("GET", "/api/v1/namespaces/default/events")["items"]
    ours = [e for e in events if e["involvedObject"].get("kind") == crd.KIND]
    reasons = [e["reason"] for e in ours]
    assert reasons.count("Started") == 1 and reasons.count("Completed") == 1
    assert 1 <= reasons.count("InfraFailure") <= 3, "one InfraFailure event per 10 s window, not 80"


def test_metrics_health_and_readiness_endpoints(farm: Farm) -> None:
    farm.submit("measured", 20)
    with farm.controller(metrics_port=0, metrics_host="127.0.0.1") as c:
        farm.wait("measured")
        assert c.service.server is not None
        base = f"http://127.0.0.1:{c.service.server.port}"
        code, text = get(f"{base}/metrics")
        assert get(f"{base}/healthz")[0] == 200 and get(f"{base}/readyz")[0] == 200
    assert code == 200
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines["envfarm_pods_created_total"]) == 20
    assert float(lines['envfarm_api_requests_total{code="201",verb="create"}']) >= 20
    assert float(lines["envfarm_env_time_to_ready_seconds_count"]) == 20
    assert float(lines["envfarm_reconcile_seconds_count"]) > 0
    assert float(lines['envfarm_setup_yield{job="default/measured"}']) == 1.0
    assert float(lines["envfarm_leader"]) == 1
    assert "envfarm_queue_depth" in lines and "envfarm_tracked_pods" in lines
