"""Run the projection daemon from the command line; the operator CLI reuses this logic.

    python -m eventbook.projections run myapp.read_models:build --store sqlite:///orders.db
    python -m eventbook.projections status myapp.read_models:build --store ...

These keep working; the `eventbook` console script has every projection command
(`eventbook projections status|run|rebuild|build|switch|drop|parked|retry|discard`).

`build` is a callable taking the opened event store and returning (or awaiting to) a
list of projections. Options default to environment variables, read here only:
EVENTBOOK_STORE_URL, EVENTBOOK_PROJECTIONS_BATCH_SIZE, EVENTBOOK_PROJECTIONS_LEASE_TTL.

`--metrics-port` and `--health-port` (one port may serve both) serve GET /metrics,
/health/live and /health/ready (needs `eventbook[observability]`); with the OpenTelemetry
SDK installed (`eventbook[otel]`), the standard OTEL_* variables switch tracing on.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventbook._connect import connect
from eventbook._errors import EventbookError, ValidationError
from eventbook._store.port import EventStore
from eventbook.projections._daemon import ProjectionDaemon
from eventbook.projections._projection import Projection
from eventbook.projections._runner import RunnerSettings
from eventbook.projections._status import status


def load_factory(target: str) -> Any:
    """Import `package.module:function`."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValidationError(f"expected 'package.module:function', not {target!r}")
    factory = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(factory):
        raise ValidationError(f"{target!r} is not a callable in {module_name}")
    return factory


async def build_projections(target: str, store: EventStore) -> list[Projection[Any]]:
    built = load_factory(target)(store)
    if inspect.isawaitable(built):
        built = await built
    projections = list(built)
    if not all(isinstance(p, Projection) for p in projections):
        raise ValidationError(f"{target} must return a list of Projection objects")
    return projections


@dataclass(frozen=True)
class Endpoints:
    """Where the daemon serves its metrics and health (None: not served)."""

    host: str = "127.0.0.1"
    metrics_port: int | None = None
    health_port: int | None = None
    stuck_after: float = 60.0

    @property
    def ports(self) -> list[int]:
        return sorted({p for p in (self.metrics_port, self.health_port) if p is not None})


async def run_daemon(
    target: str, store_url: str, settings: RunnerSettings, endpoints: Endpoints | None = None
) -> None:
    """Open the store, build the projections, run the daemon until SIGTERM/SIGINT.

    A signal that arrives while the store opens or the projections are set up stops the
    daemon as soon as it can, cleanly, like one that arrives later.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stopping.set)
    try:
        store = await connect(store_url)
        projections: list[Projection[Any]] = []
        try:
            projections = await build_projections(target, store)
            servers: list[asyncio.Server] = []
            on_batch = None
            builds = projections
            observed = _observability(endpoints or Endpoints())
            if observed is not None:
                observed.store(store)
                builds = observed.projections(projections)
                on_batch = observed.on_batch
            daemon = ProjectionDaemon(store, builds, settings=settings, on_batch=on_batch)
            if observed is not None and endpoints is not None:
                servers = await _serve(observed, endpoints, store, daemon)
            running = asyncio.create_task(daemon.run(handle_signals=False))
            asked = asyncio.create_task(stopping.wait())
            await asyncio.wait({running, asked}, return_when=asyncio.FIRST_COMPLETED)
            asked.cancel()
            daemon.stop()
            await running
            for server in servers:
                server.close()
        finally:
            await _close(store, projections)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def _observability(endpoints: Endpoints) -> Any:
    """An `Observability` when ports are asked for or OTEL_* asks for traces; else None."""
    tracing = any(name.startswith("OTEL_") for name in os.environ)
    if not endpoints.ports and not tracing:
        return None
    from eventbook import observability  # the optional extra, loaded only when asked for

    if tracing:
        observability.configure_tracing_from_env()
    return observability.Observability(
        metrics=bool(endpoints.ports), stuck_after=endpoints.stuck_after
    )


async def _serve(
    observed: Any, endpoints: Endpoints, store: EventStore, daemon: ProjectionDaemon
) -> list[asyncio.Server]:
    from eventbook import observability

    async def metrics() -> tuple[bytes, str]:
        await observed.collect(store, daemon.projections, runner_states=daemon.states())
        exposed: tuple[bytes, str] = observed.exposition()
        return exposed

    async def ready() -> Any:
        return await observed.readiness(store, daemon.projections, runner_states=daemon.states())

    servers = []
    for port in endpoints.ports:
        server = await observability.serve(endpoints.host, port, metrics, ready)
        servers.append(server)
        logging.getLogger("eventbook.projections").info(
            "metrics and health at http://%s:%d", endpoints.host, port
        )
    return servers


async def print_status(target: str, store_url: str) -> None:
    store = await connect(store_url)
    projections: list[Projection[Any]] = []
    try:
        projections = await build_projections(target, store)
        found = await status(store, projections)
        print(json.dumps([s.as_dict() for s in found], indent=2, default=str))
    finally:
        await _close(store, projections)


async def _close(store: EventStore, projections: Sequence[Projection[Any]]) -> None:
    databases = {id(p.sink.database): p.sink.database for p in projections}
    for database in databases.values():
        await database.close()
    await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m eventbook.projections",
        epilog="More commands (rebuild, parked, retry, ...): eventbook projections --help",
    )
    parser.add_argument("command", choices=("run", "status"))
    parser.add_argument("target", help="package.module:function building the projections")
    parser.add_argument("--store", default=env.get("EVENTBOOK_STORE_URL"), help="store URL")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=env.get("EVENTBOOK_PROJECTIONS_BATCH_SIZE", "1000"),  # argparse converts it
    )
    parser.add_argument("--max-wait", type=float, default=0.0, help="seconds to fill a batch")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument(
        "--lease-ttl", type=float, default=env.get("EVENTBOOK_PROJECTIONS_LEASE_TTL", "10")
    )
    parser.add_argument("--metrics-port", type=int, help="serve /metrics on this port")
    parser.add_argument("--health-port", type=int, help="serve /health/live and /health/ready")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="address of those ports")
    parser.add_argument(
        "--stuck-after",
        type=float,
        default=60.0,
        help="seconds behind without progress before a projection counts as stuck",
    )
    parser.add_argument(
        "--log-level", default="INFO", type=str.upper, choices=logging.getLevelNamesMapping()
    )
    args = parser.parse_args(argv)
    if not args.store:
        parser.error("give --store or set EVENTBOOK_STORE_URL")
    try:
        settings = RunnerSettings(
            batch_size=args.batch_size,
            max_wait=args.max_wait,
            poll_interval=args.poll_interval,
            lease_ttl=args.lease_ttl,
        )
    except ValidationError as error:
        parser.error(str(error))
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.path.insert(0, os.getcwd())  # like `python -m`, find the app's modules here
    try:
        if args.command == "status":
            asyncio.run(print_status(args.target, args.store))
        else:
            endpoints = Endpoints(
                args.metrics_host, args.metrics_port, args.health_port, args.stuck_after
            )
            asyncio.run(run_daemon(args.target, args.store, settings, endpoints))
    except (EventbookError, ImportError) as error:
        # A bad target, store URL or projection: one line saying what, not a traceback.
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0
