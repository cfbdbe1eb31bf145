"""Benchmark the farm controller on kubesim (fake kubelet): a ``hold`` RolloutJob of N envs, concurrency N.

kubesim runs in its own process (like an API server); the controller runs in this one, through the
official client, exactly as `envfarm controller run` does. For the 10k job it measures the time until all
envs are Running, creates/s against the controller's QPS budget (``--qps``: the budget it was given, so
a ratio near 1 means creates are limited by the budget, not by the controller), API writes per env
lifecycle (kubesim's own request counters: creates, deletes, status patches, events, leases; the issue's
target is <= 3, public controllers measure ~23), controller CPU per 1k envs, controller memory per tracked
pod (RSS growth over the informer's pod count; target <= 10 KiB), reconcile pass latency; then the time
until all envs of a 50k job are Running. A third, graded job of N envs ends each sample with a verdict
(30% pass, like a replay job's verifier, without running tests) and measures what a job's results cost:
API writes per env including the result log's ConfigMaps, and the size of the final status against the
1.5 MiB etcd limit. Prints a side-by-side against the targets and, as its last line, one JSON object.
``--smoke`` runs small sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from envfarm.farm import crd, podspec
from envfarm.farm.agents import AgentRunner, EnvHandle, HoldRunner
from envfarm.farm.controller import Options
from envfarm.farm.kube.service import ControllerThread, ServiceOptions
from envfarm.farm.tasks import StoreTasks
from envfarm.kubesim import KubeletConfig, KubeSim, SimConfig
from envfarm.models.job import SampleResult
from envfarm.settings import Settings
from envfarm.testing.kubesim import raw_json

TARGET_WRITES_PER_ENV = 3.0
PEER_WRITES_PER_ENV = 23.0
TARGET_KIB_PER_POD = 10.0
ETCD_LIMIT_KIB = 1536.0  # etcd's default --max-request-bytes: no object may be larger
JOBS = f"/apis/{crd.GROUP}/{crd.VERSION}/namespaces/default/{crd.PLURAL}"


# ---- kubesim in a child process -------------------------------------------------------------------
def serve(kubeconfig: Path, pods: int) -> None:
    async def main() -> None:
        kubelet = KubeletConfig(creating_s=0.2, start_s=0.5, jitter=0.2, terminate_s=0.1)
        cfg = SimConfig(
            nodes=pods // 100 + 1, pods_per_node=110, watch_window=4 * pods + 1000, kubelet=kubelet
        )
        async with KubeSim(cfg) as sim:
            sim.write_kubeconfig(kubeconfig)
            await asyncio.Event().wait()

    asyncio.run(main())


class Server:
    def __init__(self, work: Path, pods: int) -> None:
        self.kubeconfig = work / "kubeconfig"
        cmd = [sys.executable, __file__, "--serve", str(self.kubeconfig), "--pods", str(pods)]
        self.proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + 60
        while not self.kubeconfig.exists() or not self.kubeconfig.read_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("kubesim did not start")
            time.sleep(0.05)
        from kubernetes import config

        self.api = config.new_client_from_config(str(self.kubeconfig))

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        return raw_json(self.api, method, path, body)[1]

    def writes(self) -> int:
        return int(self.call("GET", "/kubesim/stats")["writes"])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def burst_for(qps: float) -> int:
    """A small burst, so that creates/s over the ramp measure the steady budget, not the saved-up tokens."""
    return max(1, int(qps / 10))


# ---- one job ----------------------------------------------------------------------------------------
def rss_kib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024


@dataclass
class Run:
    pods: int
    seconds_all_running: float = 0.0
    seconds_all_created: float = 0.0
    max_running: int = 0
    seconds_done: float = 0.0
    writes: int = 0
    cpu_s: float = 0.0
    kib_per_pod: float = 0.0  # live Python heap (tracemalloc) per tracked pod: only in a --trace run
    rss_kib_per_pod: float = 0.0  # resident-set growth per tracked pod (includes allocator slack)
    passes: tuple[float, ...] = ()
    status_kib: float = 0.0  # the job's final status (graded run)
    result_configmaps: int = 0
    results_logged: int = 0


class GradedRunner:
    """Holds like ``hold``, then ends with a verdict as a replay job's verifier would (30% pass, fixed by
    the sample): the controller books a result per sample, so its result log is exercised at scale."""

    def __init__(self) -> None:
        self.hold = HoldRunner()

    async def run(self, env: EnvHandle) -> SampleResult:
        await self.hold.run(env)
        ok = (env.sample * 2654435761) % 100 < 30
        why = "" if ok else f"FAIL_TO_PASS failed: tests/test_mod.py::test_case_{env.sample}"
        return SampleResult(
            task_id=env.task_id,
            sample=env.sample,
            outcome="pass" if ok else "fail",
            reward=float(ok),
            reason=why,
        )


def submit(server: Server, pods: int, hold_s: float) -> None:
    spec = {"tasks": {"ids": ["bench"]}, "group_size": pods, "concurrency": pods, "setup_timeout_s": 3600}
    spec["agent"] = {"kind": "hold", "seconds": hold_s}
    spec["resources"] = {"cpu": "10m", "memory": "16Mi"}  # a capacity rehearsal: nodes fit 110 pods each
    body = {"apiVersion": crd.API_VERSION, "kind": crd.KIND, "metadata": {"name": "bench"}, "spec": spec}
    server.call("POST", JOBS, body)


def run_job(
    work: Path,
    pods: int,
    qps: float,
    hold_s: float,
    *,
    finish: bool,
    trace: bool = False,
    graded: bool = False,
) -> Run:
    server = Server(work, pods)
    try:
        server.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd.build_crd())
        options = ServiceOptions(
            kubeconfig=server.kubeconfig,
            qps=qps,
            burst=burst_for(qps),
            inflight=32,
            identity="bench",
            controller=Options(status_interval_s=2.0),
        )
        tasks = StoreTasks(Settings(home=work / "home"))
        runner: AgentRunner = GradedRunner() if graded else HoldRunner()
        with ControllerThread(options, tasks, {"hold": runner}) as ct:
            run = measure(server, ct, pods, hold_s, finish=finish, trace=trace)
        if graded:
            status = server.call("GET", f"{JOBS}/bench").get("status") or {}
            run.status_kib = len(orjson.dumps(status)) / 1024
            logs = server.call(
                "GET", "/api/v1/namespaces/default/configmaps?labelSelector=envfarm.dev/role=results"
            )
            items = logs.get("items") or []
            run.result_configmaps = len(items)
            run.results_logged = sum(i["data"][podspec.RESULTS_KEY].count("\n") for i in items)
        return run
    finally:
        server.close()


def measure(
    server: Server, ct: ControllerThread, pods: int, hold_s: float, *, finish: bool, trace: bool
) -> Run:
    svc = ct.service
    while not svc.cluster.synced():
        time.sleep(0.05)
    time.sleep(0.5)
    if trace:
        gc.collect()
        tracemalloc.start()
    run, rss0, writes0, passes0 = Run(pods), rss_kib(), server.writes(), len(svc.controller.passes)
    heap0 = tracemalloc.get_traced_memory()[0] if trace else 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    submit(server, pods, hold_s)
    while run.max_running < pods and time.perf_counter() - t0 < hold_s + 600:
        snapshot = svc.cluster.pod_informer.snapshot()
        running = sum(1 for p in snapshot if p["ready"])
        run.max_running = max(run.max_running, running)
        if not run.seconds_all_created and svc.metrics.pods_created._value.get() >= pods:
            run.seconds_all_created = time.perf_counter() - t0
        time.sleep(0.1)
    run.seconds_all_running = time.perf_counter() - t0
    tracked = max(1, len(svc.cluster.pod_informer.snapshot()))
    run.rss_kib_per_pod = (rss_kib() - rss0) / tracked
    if trace:
        gc.collect()
        run.kib_per_pod = (tracemalloc.get_traced_memory()[0] - heap0) / tracked / 1024
        tracemalloc.stop()
    if finish:
        while server.call("GET", f"{JOBS}/bench").get("status", {}).get("phase") != "Succeeded" or (
            svc.cluster.pod_informer.snapshot()
        ):
            time.sleep(0.2)
        run.seconds_done = time.perf_counter() - t0
    run.cpu_s = time.process_time() - cpu0
    run.writes = server.writes() - writes0 - 1  # less the bench's own job create
    run.passes = tuple(svc.controller.passes[passes0:])
    return run


# ---- report -----------------------------------------------------------------------------------------
def percentile(values: tuple[float, ...], q: float) -> float:
    if not values:
        return 0.0
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="small sizes (seconds)")
    ap.add_argument(
        "--qps", type=float, default=500.0, help="the controller's API budget (--qps; --burst is qps/10)"
    )
    ap.add_argument("--pods", type=int, default=10_000, help="envs of the main job")
    ap.add_argument("--big", type=int, default=50_000, help="envs of the scale job (0: skip)")
    ap.add_argument("--hold", type=float, default=0.0, help="hold seconds (default: enough for the ramp)")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.pods)
        return
    pods, big = (100, 200) if args.smoke else (args.pods, args.big)
    # long enough that the first env still holds when the last is up, whatever the create rate turns out
    hold = args.hold or (1.0 if args.smoke else max(20.0, pods / 200))
    with tempfile.TemporaryDirectory() as tmp:
        main_run = run_job(Path(tmp) / "main", pods, args.qps, hold, finish=True)
        main_run.kib_per_pod = run_job(
            Path(tmp) / "mem", pods, args.qps, 3600, finish=False, trace=True
        ).kib_per_pod
        big_run = run_job(Path(tmp) / "big", big, args.qps, 3600, finish=False) if big else None
        graded = run_job(Path(tmp) / "graded", pods, args.qps, hold, finish=True, graded=True)
    report(main_run, big_run, graded, args.qps)


def report(run: Run, big: Run | None, graded: Run, qps: float) -> None:
    n = run.pods
    creates_per_s = n / run.seconds_all_created if run.seconds_all_created else 0.0
    writes_per_env = run.writes / n
    passes = tuple(p * 1000 for p in run.passes)
    print(
        f"cpus: {os.cpu_count()}  envs: {n} (hold job, concurrency {n})  "
        f"--qps {qps:g}  --burst {burst_for(qps)}"
    )
    print(f"all {n} envs Running after {run.seconds_all_running:.1f}s (most at once: {run.max_running})")
    print(
        f"creates/s: {creates_per_s:,.0f} vs the QPS budget {qps:g}: {creates_per_s / qps:.2f}x of the budget"
    )
    print(
        f"API writes per env lifecycle: {writes_per_env:.2f} vs target {TARGET_WRITES_PER_ENV:g} "
        f"({TARGET_WRITES_PER_ENV / writes_per_env:.2f}x headroom) and ~{PEER_WRITES_PER_ENV:g} for the best "
        f"public sandbox controller ({PEER_WRITES_PER_ENV / writes_per_env:.1f}x fewer)"
    )
    print(
        f"controller CPU: {run.cpu_s * 1000 / n:.2f} s per 1k envs (whole lifecycle, {run.seconds_done:.1f}s)"
    )
    print(
        f"controller memory per tracked pod: {run.kib_per_pod:.2f} KiB live heap "
        "(tracemalloc, a separate run) "
        f"vs target {TARGET_KIB_PER_POD:g} KiB: {TARGET_KIB_PER_POD / run.kib_per_pod:.1f}x headroom; "
        f"resident-set growth {run.rss_kib_per_pod:.1f} KiB (incl. allocator slack from parsed JSON)"
    )
    p50, p99 = percentile(passes, 50), percentile(passes, 99)
    print(f"reconcile pass: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(passes)} passes")
    if big is not None:
        print(f"all {big.pods} envs of the scale job Running after {big.seconds_all_running:.1f}s")
    graded_writes = graded.writes / graded.pods
    print(
        f"graded job of {graded.pods} envs: {graded.results_logged} results in {graded.result_configmaps} "
        f"result-log ConfigMaps; API writes per env {graded_writes:.2f} (target {TARGET_WRITES_PER_ENV:g}); "
        f"final status {graded.status_kib:.1f} KiB vs etcd's {ETCD_LIMIT_KIB:g} KiB object limit "
        f"({graded.status_kib / ETCD_LIMIT_KIB:.3f}x)"
    )
    out = {
        "seconds_all_running_10k": round(run.seconds_all_running * 10_000 / n, 2),
        "creates_per_s": round(creates_per_s, 1),
        "ratio_to_qps_budget": round(creates_per_s / qps, 3),
        "api_writes_per_env": round(writes_per_env, 3),
        "cpu_s_per_1k_envs": round(run.cpu_s * 1000 / n, 3),
        "kib_per_tracked_pod": round(run.kib_per_pod, 2),
        "rss_kib_per_tracked_pod": round(run.rss_kib_per_pod, 2),
        "reconcile_p50_ms": round(p50, 2),
        "reconcile_p99_ms": round(p99, 2),
        "seconds_all_running_50k": round(big.seconds_all_running * 50_000 / big.pods, 2) if big else None,
        "graded_api_writes_per_env": round(graded_writes, 3),
        "graded_status_kib": round(graded.status_kib, 2),
        "graded_status_ratio_to_etcd_limit": round(graded.status_kib / ETCD_LIMIT_KIB, 4),
        "graded_results_logged": graded.results_logged,
        "graded_result_configmaps": graded.result_configmaps,
        "envs": n,
        "qps": qps,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
