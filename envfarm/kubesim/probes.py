"""Readiness probes for process-mode pods: tcpSocket and httpGet against the pod's loopback IP."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def probe_port(probe: dict[str, Any], container: dict[str, Any]) -> int:
    """The probe's port number, resolving a named container port."""
    port = (probe.get("tcpSocket") or probe.get("httpGet") or {}).get("port", 0)
    if isinstance(port, str) and not port.isdigit():
        named = [p for p in container.get("ports") or () if p.get("name") == port]
        return int(named[0]["containerPort"]) if named else 0
    return int(port)


async def probe_once(probe: dict[str, Any], container: dict[str, Any], ip: str, timeout: float = 1.0) -> bool:
    """True when the probe succeeds now (exec probes are not run and count as success)."""
    if not probe.get("tcpSocket") and not probe.get("httpGet"):
        return True
    port = probe_port(probe, container)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
    except (OSError, TimeoutError):
        return False
    try:
        if probe.get("tcpSocket"):
            return True
        path = probe["httpGet"].get("path", "/")
        writer.write(
            f"GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.34\r\n\r\n".encode()
        )
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
