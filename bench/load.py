"""Load generators: `wrk` (closed loop, maximum rate) and an open-loop constant-rate sender.

Both send pre-built, pre-signed bodies, one distinct payload per request, and keep connections
alive. The open-loop sender measures each latency from the request's *intended* send time, so a
stalled server is charged for the requests it delayed (no coordinated omission, as wrk2 does).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.fixtures import Payload

LUA = r"""
local bodies, sigs = {}, {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
for line in io.lines(os.getenv("BENCH_SIGS")) do sigs[#sigs + 1] = line end
local path = os.getenv("BENCH_PATH")
local threads = {}
i = 0

function setup(thread) table.insert(threads, thread) end

function request()
  i = i + 1
  local k = ((i - 1) % #bodies) + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = sigs[k], ["User-Agent"] = "facebookexternalua"}, bodies[k])
end

function done(summary, latency, requests)
  local issued = 0
  for _, t in ipairs(threads) do issued = issued + t:get("i") end
  io.write(string.format(
    'BENCH {"requests":%d,"issued":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, issued, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str | None:
    """The wrk binary; installed with apt-get when missing and allowed (root), else None."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False)  # noqa: S607
    return shutil.which("wrk")


def run_wrk(
    url: str, payloads: list[Payload], *, seconds: float, connections: int = 32
) -> dict[str, Any]:
    """POST the payloads (in order, one per request) for `seconds` with `connections` keep-alive connections."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="wacrm-bench-wrk-"))
    (folder / "bodies.txt").write_bytes(b"\n".join(p.body for p in payloads) + b"\n")
    (folder / "sigs.txt").write_text("\n".join(p.signature for p in payloads) + "\n")
    (folder / "post.lua").write_text(LUA)
    base, _, path = url.partition("://")[2].partition("/")
    env = {
        "BENCH_BODIES": str(folder / "bodies.txt"),
        "BENCH_SIGS": str(folder / "sigs.txt"),
        "BENCH_PATH": "/" + path,
    }
    result = subprocess.run(  # noqa: S603
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(folder / "post.lua"),
            f"http://{base}/",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    data = json.loads(line[6:])
    duration = data["duration_us"] / 1e6
    ok = data["requests"] - data["non2xx"]
    return {
        "requests": data["requests"],
        "ok": ok,
        "issued": data["issued"],
        "wrapped": data["issued"] > len(payloads),
        "errors": {k: data[k] for k in ("non2xx", "connect", "read", "write", "timeout")},
        "seconds": round(duration, 2),
        "per_second": round(ok / duration, 1),
        "p50_ms": data["p50_us"] / 1000,
        "p90_ms": data["p90_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "max_ms": data["max_us"] / 1000,
        "connections": connections,
    }


def _request(host: str, port: int, path: str, p: Payload) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature-256: {p.signature}\r\nUser-Agent: facebookexternalua\r\n"
        f"Content-Length: {len(p.body)}\r\n\r\n"
    )
    return head.encode() + p.body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _open_loop(url: str, payloads: list[Payload], rate: float) -> dict[str, Any]:
    rest = url.partition("://")[2]
    hostport, _, path = rest.partition("/")
    host, _, port_s = hostport.partition(":")
    port = int(port_s or 80)
    requests = [_request(host, port, "/" + path, p) for p in payloads]
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(16):
        idle.append(await asyncio.open_connection(host, port))
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    late = 0.0

    async def one(data: bytes, intended: float) -> None:
        nonlocal errors
        conn = idle.pop() if idle else await asyncio.open_connection(host, port)
        try:
            conn[1].write(data)
            status = await _read_response(conn[0])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn[1].close()
            return
        latencies.append(loop.time() - intended)
        statuses[status] = statuses.get(status, 0) + 1
        idle.append(conn)

    start = loop.time() + 0.05
    tasks = []
    for n, data in enumerate(requests):
        intended = start + n / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        tasks.append(asyncio.create_task(one(data, intended)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for _, writer in idle:
        writer.close()
    latencies.sort()

    def pct(q: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)
            if latencies
            else 0.0
        )

    return {
        "offered_per_second": rate,
        "sent": len(requests),
        "seconds": round(elapsed, 2),
        "ok": statuses.get(200, 0),
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": errors,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else 0.0,
        "sender_max_lag_ms": round(late * 1000, 2),
    }


def open_loop(url: str, payloads: list[Payload], *, rate: float) -> dict[str, Any]:
    """Send every payload at a constant `rate` per second, whatever the answers' pace."""
    try:
        import uvloop

        return uvloop.run(_open_loop(url, payloads, rate))
    except ImportError:
        return asyncio.run(_open_loop(url, payloads, rate))
