"""The store's resourceVersions, retained event window and 410 horizon; config validation; HTTP parsing."""

from __future__ import annotations

import pytest

from envfarm.errors import ConfigError
from envfarm.kubesim import SimConfig
from envfarm.kubesim.httpserver import BadRequest, parse_head
from envfarm.kubesim.resources import Registry
from envfarm.kubesim.store import Store


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "d"}}


def test_versions_window_and_horizon() -> None:
    store, rt = Store(window=3, first_rv=100), Registry().lookup("", "v1", "configmaps")
    start = store.rv
    for i in range(5):
        store.put(rt, _cm(f"c{i}"))
    assert store.rv == start + 5
    assert store.get(rt, "d", "c4")["metadata"]["resourceVersion"] == str(start + 5)  # type: ignore[index]
    assert store.since(rt, start) is None  # its events fell out of the window: 410
    events = store.since(rt, start + 2)
    assert events is not None and [e.rv for e in events] == [start + 3, start + 4, start + 5]
    gone = store.remove(rt, "d", "c0")
    assert gone is not None and int(gone["metadata"]["resourceVersion"]) == start + 6
    assert [e.type for e in store.since(rt, start + 5) or []] == ["DELETED"]


def test_config_rejects_non_loopback_and_bad_values() -> None:
    SimConfig(host="127.0.0.2").validate()
    for bad in (
        SimConfig(host="0.0.0.0"),
        SimConfig(host="10.0.0.1"),
        SimConfig(mode="cloud"),
        SimConfig(watch_window=0),
    ):
        with pytest.raises(ConfigError):
            bad.validate()


def test_parse_head() -> None:
    method, path, query, headers = parse_head(
        b"GET /api/v1/pods?watch=1&labelSelector=a%3Db HTTP/1.1\r\nAccept: x"
    )
    assert (method, path, query, headers) == (
        "GET",
        "/api/v1/pods",
        {"watch": "1", "labelSelector": "a=b"},
        {"accept": "x"},
    )
    with pytest.raises(BadRequest):
        parse_head(b"nonsense")
