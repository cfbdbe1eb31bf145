"""Benchmark kubesim: creates/s (official client), watch fan-out, memory per pod, 10k pods to Running.

Prints a ratio against the issue's limits (>= 500 creates/s, 10k pods Running in <= 60 s) and, as its last
line, one JSON object with creates_per_s, watch_events_per_s_1, watch_events_per_s_10, kib_per_pod and
seconds_10k_running. ``--smoke`` runs small sizes. The API server runs in its own process (like a real
cluster), so the official client's CPU and the server's are on separate cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envfarm.kubesim import KubeletConfig, KubeSim, SimConfig

TARGET_CREATES_PER_S = 500.0
TARGET_SECONDS_10K = 60.0


def pod_body(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "envfarm.io/job": "bench"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "env",
                    "image": "envfarm/runtime:1",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


# ---- server process ---------------------------------------------------------------------------
def serve(port_file: Path, nodes: int) -> None:
    async def main() -> None:
        cfg = SimConfig(
            nodes=nodes, pods_per_node=110, watch_window=50_000, kubelet=KubeletConfig(jitter=0.2)
        )
        async with KubeSim(cfg) as sim:
            port_file.write_text(sim.url)
            await asyncio.Event().wait()

    asyncio.run(main())


class Server:
    """A kubesim in a child process."""

    def __init__(self, nodes: int) -> None:
        self.dir = tempfile.TemporaryDirectory()
        port_file = Path(self.dir.name) / "url"
        cmd = [sys.executable, __file__, "--serve", str(port_file), "--nodes", str(nodes)]
        self.proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("kubesim server did not start")
            time.sleep(0.05)
        self.url = port_file.read_text()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()


# ---- creates through the official client --------------------------------------------------------
def creates_per_s(url: str, count: int, threads: int, prefix: str, preload: bool) -> float:
    """Pod creates/s with ``threads`` official clients; ``preload=False`` skips model deserialisation
    (raw JSON, as envfarm's controller reads responses)."""
    from kubernetes import client

    def make() -> client.CoreV1Api:
        conf = client.Configuration()
        conf.host = url
        return client.CoreV1Api(client.ApiClient(conf))

    local = threading.local()

    def create(i: int) -> None:
        if not hasattr(local, "api"):
            local.api = make()
        local.api.create_namespaced_pod("default", pod_body(f"{prefix}-{i}"), _preload_content=preload)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(min(threads * 2, count))))  # warm connections
        start = time.perf_counter()
        list(pool.map(create, range(threads * 2, threads * 2 + count)))
        return count / (time.perf_counter() - start)


# ---- 10k pods to Running ------------------------------------------------------------------------
async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str, body: bytes
) -> int:
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: kubesim\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def seconds_to_running(url: str, pods: int, conns: int = 8) -> float:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dscale HTTP/1.1\r\n"
        b"Host: k\r\n\r\n"
    )
    running: set[bytes] = set()
    done = asyncio.Event()

    async def watch() -> None:
        await reader.readuntil(b"\r\n\r\n")
        while len(running) < pods:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            for line in chunk.split(b"\n"):
                if b'"phase":"Running"' in line:
                    name = line.split(b'"name":"', 1)[1].split(b'"', 1)[0]
                    running.add(name)
        done.set()

    async def creator(offset: int) -> None:
        r, w = await asyncio.open_connection(host, int(port))
        for i in range(offset, pods, conns):
            body = pod_body(f"scale-{i}")
            body["metadata"]["labels"] = {"app": "scale"}  # type: ignore[index]
            await _request(r, w, "POST", "/api/v1/namespaces/default/pods", json.dumps(body).encode())
        w.close()

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.1)
    start = time.perf_counter()
    await asyncio.gather(*(creator(i) for i in range(conns)))
    try:
        await asyncio.wait_for(done.wait(), 300)
    except TimeoutError as exc:
        raise RuntimeError(f"only {len(running)} of {pods} pods Running after 300 s") from exc
    watcher.cancel()
    writer.close()
    return time.perf_counter() - start


# ---- watch fan-out (in process) ----------------------------------------------------------------------
async def watch_events_per_s(watchers: int, events: int) -> float:
    async with KubeSim(nodes=0, watch_window=events + 10) as sim:
        rt = sim.core.registry.lookup("", "v1", "configmaps")
        host, port = sim.url.removeprefix("http://").split(":")
        counts = [0] * watchers

        async def reader_task(i: int) -> None:
            r, w = await asyncio.open_connection(host, int(port))
            w.write(
                b"GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion="
                + str(sim.store.rv).encode()
                + b" HTTP/1.1\r\nHost: k\r\n\r\n"
            )
            while counts[i] < events:
                data = await r.read(1 << 20)
                counts[i] += data.count(b"\n{") + data.count(b'{"type"') - data.count(b"\n{")
            w.close()

        tasks = [asyncio.create_task(reader_task(i)) for i in range(watchers)]
        while len(sim.hub.active) < watchers:
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        for i in range(events):
            sim.store.put(
                rt,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i % 100}", "namespace": "default"},
                    "data": {"i": str(i)},
                },
            )
            if i % 200 == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return watchers * events / (time.perf_counter() - start)


# ---- memory per stored pod ------------------------------------------------------------------------
async def kib_per_pod(pods: int) -> float:
    async with KubeSim(
        nodes=pods // 100 + 1,
        pods_per_node=110,
        watch_window=10_000,
        kubelet=KubeletConfig(creating_s=0.01, start_s=0.01, jitter=0),
    ) as sim:
        rt = sim.core.registry.lookup("", "v1", "pods")
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(pods):
            sim.core.create(rt, "default", pod_body(f"mem-{i}"))
            if i % 500 == 0:
                await asyncio.sleep(0)
        while sum(1 for p in sim.store.items(rt) if p["status"].get("phase") == "Running") < pods:
            await asyncio.sleep(0.05)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return used / pods / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--threads", type=int, default=4, help="official-client threads for creates")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--nodes", type=int, default=100, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.nodes)
        return
    creates, running_pods, events, mem_pods = (
        (200, 500, 2000, 500) if args.smoke else (3000, 10_000, 50_000, 10_000)
    )
    server = Server(nodes=(running_pods + 2 * creates + 100) // 100 + 1)
    try:
        cps = creates_per_s(server.url, creates, args.threads, "raw", preload=False)
        cps_models = creates_per_s(server.url, creates, args.threads, "model", preload=True)
        secs = asyncio.run(seconds_to_running(server.url, running_pods))
    finally:
        server.close()
    w1 = asyncio.run(watch_events_per_s(1, events))
    w10 = asyncio.run(watch_events_per_s(10, events // 5))
    kib = asyncio.run(kib_per_pod(mem_pods))
    secs_10k = secs * 10_000 / running_pods
    print(
        f"cpus: {os.cpu_count()}  sizes: creates={creates} running={running_pods} events={events} "
        f"mem_pods={mem_pods}"
    )
    print(
        f"creates/s (official client, {args.threads} threads): {cps:,.0f}  "
        f"vs target {TARGET_CREATES_PER_S:.0f}: {cps / TARGET_CREATES_PER_S:.2f}x  "
        f"(raw JSON responses; with model deserialisation: {cps_models:,.0f}/s, "
        f"{cps_models / TARGET_CREATES_PER_S:.2f}x)"
    )
    print(
        f"{running_pods} pods to Running: {secs:.1f}s (10k-equivalent {secs_10k:.1f}s) "
        f"vs limit {TARGET_SECONDS_10K:.0f}s: "
        f"{TARGET_SECONDS_10K / secs_10k:.2f}x headroom"
    )
    print(f"watch events/s: 1 watcher {w1:,.0f}, 10 watchers {w10:,.0f} (delivered, all watchers together)")
    print(f"memory per stored Running pod (incl. watch window): {kib:.1f} KiB")
    print(
        json.dumps(
            {
                "creates_per_s": round(cps, 1),
                "watch_events_per_s_1": round(w1, 1),
                "watch_events_per_s_10": round(w10, 1),
                "kib_per_pod": round(kib, 2),
                "seconds_10k_running": round(secs_10k, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
