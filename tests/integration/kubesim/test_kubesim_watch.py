"""Watches through the official client: resume after a dropped link, 410 and relist, bookmarks, timeouts."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch

from envfarm.testing.kubesim import KubeSimThread, wait_until


def _cm(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"w": "1"}}}


def test_watch_streams_changes_with_selectors(v1: Any) -> None:
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", _cm("a"))
    v1.create_namespaced_config_map("default", {"metadata": {"name": "other"}})
    v1.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    v1.patch_namespaced_config_map(
        "a", "default", {"metadata": {"labels": {"w": "0"}}}
    )  # leaves the selector
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            v1.list_namespaced_config_map,
            "default",
            label_selector="w=1",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_watch_resumes_after_dropped_connection(ks: KubeSimThread, v1: Any) -> None:
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    for i in range(3):
        v1.create_namespaced_config_map("default", _cm(f"before-{i}"))
    w = watch.Watch()
    names: list[str] = []
    for event in w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
        names.append(event["object"].metadata.name)
        if len(names) == 2:
            ks.call(ks.sim.drop_watches)
            break
    last_rv = w.resource_version
    for i in range(2):
        v1.create_namespaced_config_map("default", _cm(f"after-{i}"))
    for event in watch.Watch().stream(
        v1.list_namespaced_config_map, "default", resource_version=last_rv, timeout_seconds=1
    ):
        names.append(event["object"].metadata.name)
    assert names == ["before-0", "before-1", "before-2", "after-0", "after-1"]


def test_drop_fault_cuts_stream_and_client_resumes(ks: KubeSimThread, v1: Any) -> None:
    ks.call(ks.sim.faults.update, {"watch_drop_after": 2})
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    for i in range(5):
        v1.create_namespaced_config_map("default", _cm(f"c{i}"))
    names: list[str] = []
    last = rv
    for _ in range(5):  # each stream ends after two events; resume from the last version seen
        w = watch.Watch()
        try:
            for event in w.stream(
                v1.list_namespaced_config_map, "default", resource_version=last, timeout_seconds=1
            ):
                names.append(event["object"].metadata.name)
        except Exception:  # urllib3 reports the cut connection
            pass
        last = w.resource_version or last
    assert names == [f"c{i}" for i in range(5)]


def test_too_old_version_is_410_and_relist_recovers(tmp_path: Any) -> None:
    with KubeSimThread(kubeconfig_path=tmp_path / "kc", nodes=0, watch_window=3) as ks:
        v1 = client.CoreV1Api(ks.api_client())
        rv = v1.list_namespaced_config_map("default").metadata.resource_version
        for i in range(6):
            v1.create_namespaced_config_map("default", _cm(f"x{i}"))
        with pytest.raises(client.ApiException) as err:
            list(
                watch.Watch().stream(
                    v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1
                )
            )
        assert err.value.status == 410
        fresh = v1.list_namespaced_config_map("default")  # relist, then watch from its version
        assert len(fresh.items) == 6
        v1.create_namespaced_config_map("default", _cm("y"))
        events = list(
            watch.Watch().stream(
                v1.list_namespaced_config_map,
                "default",
                resource_version=fresh.metadata.resource_version,
                timeout_seconds=1,
            )
        )
        assert [e["object"].metadata.name for e in events] == ["y"]


def test_bookmarks_and_timeout(v1: Any) -> None:
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    start = time.monotonic()
    resp = v1.list_namespaced_config_map(
        "default",
        watch=True,
        allow_watch_bookmarks=True,
        resource_version=rv,
        timeout_seconds=1,
        _preload_content=False,
    )
    lines = [line for line in resp.stream() if line.strip()]
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3
    text = b"".join(lines)
    assert b'"type":"BOOKMARK"' in text


def test_initial_events_without_version(v1: Any) -> None:
    v1.create_namespaced_config_map("default", _cm("seed"))
    found = []
    stop = threading.Event()
    for event in watch.Watch().stream(v1.list_namespaced_config_map, "default", timeout_seconds=1):
        found.append((event["type"], event["object"].metadata.name))
        stop.set()
    assert ("ADDED", "seed") in found


def test_pod_watch_sees_kubelet_progress(v1: Any) -> None:
    rv = v1.list_namespaced_pod("default").metadata.resource_version
    v1.create_namespaced_pod(
        "default", {"metadata": {"name": "w"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    phases = []
    for event in watch.Watch().stream(
        v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=2
    ):
        phases.append(event["object"].status.phase)
        if phases[-1] == "Running":
            break
    assert phases[0] == "Pending" and phases[-1] == "Running"
    wait_until(lambda: v1.read_namespaced_pod("w", "default").status.pod_ip)
