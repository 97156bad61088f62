"""The Orders service under sustained command load over HTTP, beside a trivial round trip.

    python -m benchmarks.http_load --runs 3 --json

Each run starts the service (embedded profile: SQLite, projections in the same process)
as its own process on a free port, with a fresh data directory and a small seed, and then:

- Baseline: `WORKERS` concurrent clients (one `httpx.AsyncClient`, keep-alive) send
  `GET /api/whoami`, the cheapest authenticated endpoint: the HTTP round trip of the
  service and of the client itself.
- Load: for `DURATION` seconds, the same clients each run orders through their life,
  one command at a time: place, pay the exact total, ship (`POST`, writer key, 202).
  Meanwhile a monitor polls `GET /api/projections` (the largest `lag_events` and
  `lag_seconds` of any projection), and every `SAMPLE_EVERY`-th placed order is watched
  from its 202 until `GET /api/orders/{id}` finds it (the query side's visibility lag).
- After the load: the time until every projection reports no lag (catch-up).
- Mixed load (`benchmarks/http_mixed.py`): for `http_mixed.DURATION` seconds, the same
  writers with 4 readers (the order list, then its newest order), a live SSE client and,
  half-way, a rebuild of every projection (`POST /api/projections/{name}/rebuild`, an
  operator's key): commands/s and read p99 before the rebuild and during it, the phase's
  events the feed delivered, and reads that saw fewer orders than an earlier read.

Every request sends an API key (writer for commands, reader for reads and the feed,
operator for projections' status and rebuilds): the service answers nothing without one.

Figures are rates per second and times in seconds (p50 and p99 over every request of the
run; a visibility time includes the round trip of the query that found the order); the
report gives the medians across runs. `--scale 0.2` makes a quick smoke run. The targets
compare against the baseline measured in the same run:

- a command's median latency is at most 8 trivial round trips,
- commands reach at least a fifth of the trivial requests' rate,
- a placed order is visible to queries, at the median, within 2 command latencies;
- the mixed load keeps half the commands/s of commands alone;
- during the rebuild, commands/s stay at half or more of before it, read p99 within 3 times;
- the live feed delivers the event of every command of the mixed load;
- no read of the mixed load sees fewer orders than an earlier one (the rebuild is
  blue/green).

Measured (2 vCPUs shared with other work; medians of 3 runs; see benchmarks/README.md):
whoami 219/s; commands 92/s, p50 59 ms; mixed load 64 commands/s, read p99 223 ms, every
command's event on the feed; during the blue/green rebuild (6.7 s) commands 0.92 x and
read p99 1.31 x what they were before it; no read saw fewer orders. Ratios: 2.5
(latency), 0.42 (rate), 0.72 (visibility), 0.70 (mixed vs alone), 0.92 and 1.31
(rebuild), 1.0 (feed), 0 (fewer orders): all met.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks import http_mixed
from benchmarks.common import Figures, Target, arguments, repeat, report, summarise
from benchmarks.http_mixed import Keys

ROOT = Path(__file__).resolve().parents[1]
WRITER_KEY = "bench-writer-key-0123456789abcdef"
READER_KEY = "bench-reader-key-0123456789abcdef"
OPERATOR_KEY = "bench-operator-key-0123456789abcdef"
"""The monitor's key (projections' status is an operator's), also the rebuilds'."""
KEYS = Keys(
    writer={"X-API-Key": WRITER_KEY},
    reader={"X-API-Key": READER_KEY},
    operator={"X-API-Key": OPERATOR_KEY},
)
"""Every request sends one: the service answers nothing without a key."""
WORKERS = 8
DURATION = 10.0
"""Seconds of command load per run (times `--scale`)."""
BASELINE_REQUESTS = 250
"""Trivial requests per client (times `--scale`)."""
SEED_ORDERS = 200
SAMPLE_EVERY = 5
MONITOR_EVERY = 0.1
VISIBLE_WITHIN = 30.0
ITEMS = [
    {"product": "Tea sampler", "quantity": 2, "unit_price": "28.00"},
    {"product": "Pour-over kettle", "quantity": 1, "unit_price": "49.50"},
]
TOTAL = "105.50"
ADDRESS = {
    "name": "Ada Benchmark",
    "street": "1 Load Lane",
    "city": "Leeds",
    "postcode": "LS1 1AA",
    "country": "GB",
}

TARGETS = [
    Target(
        "command p50 vs whoami p50 (latency)",
        "command_p50_s",
        "whoami_p50_s",
        at_most=8.0,
    ),
    Target(
        "commands/s vs whoami/s, 8 clients",
        "commands_per_s",
        "whoami_per_s",
        at_least=0.2,
    ),
    Target(
        "order visible to queries p50 vs command p50",
        "visible_p50_s",
        "command_p50_s",
        at_most=2.0,
    ),
    Target(
        "commands/s, mixed load vs commands alone",
        "mixed_commands_per_s",
        "commands_per_s",
        at_least=0.5,
    ),
    Target(
        "commands/s during the rebuild vs before it",
        "during_rebuild_commands_per_s",
        "before_rebuild_commands_per_s",
        at_least=0.5,
    ),
    Target(
        "read p99 during the rebuild vs before it",
        "during_rebuild_read_p99_s",
        "before_rebuild_read_p99_s",
        at_most=3.0,
    ),
    Target(
        "events on the live feed vs commands (mixed load)",
        "sse_events",
        "mixed_commands",
        at_least=1.0,
    ),
    Target(
        "reads that saw fewer orders than before vs reads (mixed load)",
        "reads_with_fewer_orders",
        "mixed_reads",
        at_most=0.0,
    ),
]


@dataclass(frozen=True)
class Service:
    url: str
    headers: dict[str, str]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _caught_up(client: httpx.AsyncClient) -> bool:
    answer = await client.get("/api/projections")
    items = answer.json()["items"] if answer.status_code == 200 else []
    return bool(items) and all(p["lag_events"] == 0 for p in items)


@asynccontextmanager
async def embedded_service() -> AsyncIterator[Service]:
    """The service as its own process, on a fresh data directory, until the block ends."""
    data = Path(tempfile.mkdtemp(prefix="eventbook-http-load-"))
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),  # this checkout first
        "ORDERS_PORT": str(port),
        "ORDERS_EVENTS_URL": f"sqlite:///{data}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{data}/read-models.db",
        "ORDERS_SEED_ORDERS": str(SEED_ORDERS),
        "ORDERS_WRITER_KEY": WRITER_KEY,
        "ORDERS_READER_KEY": READER_KEY,
        "ORDERS_OPERATOR_KEY": OPERATOR_KEY,
    }
    log = data / "service.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "apps.orders",
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        monitor = {"X-API-Key": OPERATOR_KEY}
        async with httpx.AsyncClient(base_url=url, timeout=5, headers=monitor) as client:
            deadline = time.monotonic() + 120
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the service exited:\n{log.read_text()[-3000:]}")
                try:
                    if await _caught_up(client):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start:\n{log.read_text()[-3000:]}")
                await asyncio.sleep(0.2)
        yield Service(url, KEYS.writer)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(data, ignore_errors=True)


_p = http_mixed.percentile


async def _timed(
    latencies: list[float], request: Callable[[], Awaitable[httpx.Response]], expected: int = 202
) -> httpx.Response:
    start = time.perf_counter()
    answer = await request()
    latencies.append(time.perf_counter() - start)
    if answer.status_code != expected:
        raise RuntimeError(f"{answer.request.method} {answer.request.url}: {answer.text}")
    return answer


async def baseline(client: httpx.AsyncClient, headers: dict[str, str], scale: float) -> Figures:
    per_worker = max(20, int(BASELINE_REQUESTS * scale))
    latencies: list[float] = []

    async def worker() -> None:
        for _ in range(per_worker):
            await _timed(latencies, partial(client.get, "/api/whoami", headers=headers), 200)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    elapsed = time.perf_counter() - start
    return {
        "whoami_per_s": len(latencies) / elapsed,
        "whoami_p50_s": _p(latencies, 50),
        "whoami_p99_s": _p(latencies, 99),
    }


@dataclass
class Observed:
    """What the load phase saw, besides the commands' own latencies."""

    lag_events: list[int] = field(default_factory=lambda: [0])
    lag_seconds: list[float] = field(default_factory=lambda: [0.0])
    visible_after: list[float] = field(default_factory=list)
    watchers: set[asyncio.Task[None]] = field(default_factory=set)


async def monitor(reader: httpx.AsyncClient, observed: Observed, stop: asyncio.Event) -> None:
    while not stop.is_set():
        items = (await reader.get("/api/projections")).json()["items"]
        observed.lag_events.append(max(p["lag_events"] for p in items))
        observed.lag_seconds.append(max(p["lag_seconds"] for p in items))
        await asyncio.sleep(MONITOR_EVERY)


async def watch(
    reader: httpx.AsyncClient, order_id: str, accepted: float, seen: list[float]
) -> None:
    """Time from a placement's 202 until the order list's read model has the order."""
    while time.perf_counter() - accepted < VISIBLE_WITHIN:
        if (await reader.get(f"/api/orders/{order_id}")).status_code == 200:
            seen.append(time.perf_counter() - accepted)
            return
        await asyncio.sleep(0.002)
    raise RuntimeError(f"order {order_id} not visible after {VISIBLE_WITHIN}s")


async def order_life(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    record: Callable[[httpx.Response, float], None],
    placed: Callable[[str], None] = lambda _: None,
) -> None:
    """Place an order, pay its exact total, ship it: each command's answer and latency go
    to `record`, the new order's id to `placed` as soon as it is accepted."""
    body = {"customer": "Ada Benchmark", "items": ITEMS, "shipping_address": ADDRESS}
    latencies: list[float] = []
    answer = await _timed(
        latencies, partial(client.post, "/api/orders", json=body, headers=headers)
    )
    record(answer, latencies[-1])
    order_id = answer.json()["order_id"]
    placed(order_id)
    base = f"/api/orders/{order_id}"
    for path, command in (
        (f"{base}/process-payment", {"amount": TOTAL}),
        (f"{base}/ship", {"carrier": "DHL"}),
    ):
        answer = await _timed(latencies, partial(client.post, path, json=command, headers=headers))
        record(answer, latencies[-1])


async def load(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, headers: dict[str, str], scale: float
) -> Figures:
    duration = max(2.0, DURATION * scale)
    latencies: list[float] = []
    observed = Observed()
    placed = 0
    stop = asyncio.Event()

    def sample(order_id: str) -> None:
        nonlocal placed
        placed += 1
        if placed % SAMPLE_EVERY == 0:
            task = asyncio.create_task(
                watch(reader, order_id, time.perf_counter(), observed.visible_after)
            )
            observed.watchers.add(task)

    async def worker() -> None:
        while not stop.is_set():
            await order_life(client, headers, lambda _, seconds: latencies.append(seconds), sample)

    monitoring = asyncio.create_task(monitor(reader, observed, stop))
    start = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    await asyncio.sleep(duration)
    stop.set()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    await monitoring
    await asyncio.gather(*observed.watchers)
    with_lag = time.perf_counter()
    while True:
        if await _caught_up(reader):
            break
        await asyncio.sleep(0.01)
    return {
        "commands_per_s": len(latencies) / elapsed,
        "orders_per_s": placed / elapsed,
        "command_p50_s": _p(latencies, 50),
        "command_p99_s": _p(latencies, 99),
        "visible_p50_s": _p(observed.visible_after, 50),
        "visible_p99_s": _p(observed.visible_after, 99),
        "lag_events_max": float(max(observed.lag_events)),
        "lag_seconds_max": max(observed.lag_seconds),
        "catch_up_after_load_s": time.perf_counter() - with_lag,
    }


async def one_run(scale: float) -> Figures:
    async with embedded_service() as service:
        limits = httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
        options: dict[str, Any] = {"base_url": service.url, "timeout": 30}
        async with (
            httpx.AsyncClient(limits=limits, **options) as client,
            httpx.AsyncClient(headers=KEYS.operator, **options) as reader,
        ):
            await baseline(client, service.headers, 0.1)  # warm-up
            figures = await baseline(client, service.headers, scale)
            figures.update(await load(client, reader, service.headers, scale))

        def life(
            client: httpx.AsyncClient, record: Callable[[httpx.Response, float], None]
        ) -> Awaitable[None]:
            return order_life(client, KEYS.writer, record)

        figures.update(await http_mixed.mixed(service.url, KEYS, life, scale))
    return figures


def main() -> None:
    args = arguments(__doc__).parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.scale)))
    report(summarise("http_load/embedded", runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
