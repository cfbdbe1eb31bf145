"""kubesim for tests: a simulator in a background thread (for the synchronous official client and
kubectl), an async context manager, and a pytest fixture body.

    from envfarm.testing.kubesim import kubesim_fixture

    @pytest.fixture
    def kubesim(tmp_path):
        yield from kubesim_fixture(tmp_path)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from envfarm.errors import ClusterError
from envfarm.kubesim import KubeletConfig, KubeSim, SimConfig

T = TypeVar("T")
START_TIMEOUT_S = 30.0


class KubeSimThread:
    """Runs a :class:`KubeSim` on its own event loop thread: ``with KubeSimThread() as ks: ...``."""

    def __init__(
        self, config: SimConfig | None = None, *, kubeconfig_path: Path | None = None, **overrides: Any
    ) -> None:
        self._config = config
        self._overrides = overrides
        self._path = kubeconfig_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kubesim", daemon=True)
        self._sim: KubeSim | None = None

    @property
    def sim(self) -> KubeSim:
        if self._sim is None:
            raise ClusterError("kubesim is not running (use it inside `with KubeSimThread() as ks:`)")
        return self._sim

    @property
    def kubeconfig_path(self) -> Path:
        if self._path is None:
            raise ClusterError("no kubeconfig_path was given to KubeSimThread")
        return self._path

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the simulator's loop and wait for its result."""
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(START_TIMEOUT_S)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the simulator's loop thread (safe access to its state)."""

        async def wrapped() -> T:
            return fn(*args)

        result: T = self.run(wrapped())
        return result

    def start(self) -> KubeSimThread:
        self._thread.start()

        async def make() -> KubeSim:
            return await KubeSim(self._config, **self._overrides).start()

        self._sim = self.run(make())
        if self._path is not None:
            self.sim.write_kubeconfig(self._path)
        return self

    def close(self) -> None:
        if self._sim is not None:
            with contextlib.suppress(Exception):
                self.run(self._sim.close())
            self._sim = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> KubeSimThread:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def kubeconfig(self) -> dict[str, Any]:
        return self.sim.kubeconfig()

    def api_client(self) -> Any:
        """An official ``kubernetes.client.ApiClient`` for this simulator (needs the k8s extra)."""
        from kubernetes import config as k8s_config

        return k8s_config.new_client_from_config_dict(self.kubeconfig())  # type: ignore[no-untyped-call]


def raw_json(api: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One request on any API path through an official ``ApiClient``: (status, the JSON body as a dict)."""
    req = api.param_serialize(
        method,
        path,
        body=body,
        auth_settings=["BearerToken"],
        header_params={"Content-Type": "application/json"},
    )
    resp = api.call_api(*req)
    return int(resp.status), dict(json.loads(resp.read() or b"{}"))


def fast_kubelet(**overrides: Any) -> KubeletConfig:
    """Kubelet delays short enough for tests (tens of milliseconds, no jitter)."""
    values: dict[str, Any] = {
        "creating_s": 0.02,
        "start_s": 0.03,
        "jitter": 0.0,
        "terminate_s": 0.02,
        "crash_after_s": 0.1,
        "backoff_s": 0.1,
        "max_backoff_s": 0.5,
        "node_loss_eviction_s": 0.3,
    }
    return KubeletConfig(**{**values, **overrides})


def pod_manifest(name: str, image: str = "busybox", **meta: Any) -> dict[str, Any]:
    """A minimal one-container pod body."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


def wait_until(predicate: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy; raise ClusterError naming it on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ClusterError(
                f"condition {getattr(predicate, '__name__', predicate)!r} not met in {timeout_s} s"
            )
        time.sleep(interval_s)


def kubesim_fixture(tmp_path: Path, **overrides: Any) -> Iterator[KubeSimThread]:
    """The body of a pytest fixture: a running simulator with its kubeconfig under ``tmp_path``."""
    with KubeSimThread(kubeconfig_path=tmp_path / "kubeconfig", **overrides) as ks:
        yield ks


@contextlib.asynccontextmanager
async def kubesim_async(tmp_path: Path, **overrides: Any) -> AsyncIterator[KubeSim]:
    """In an async test: ``async with kubesim_async(tmp_path) as sim`` (kubeconfig at tmp_path/kubeconfig)."""
    async with KubeSim(**overrides) as sim:
        sim.write_kubeconfig(tmp_path / "kubeconfig")
        yield sim
