"""The composition root: builds every part of the Orders service from its settings."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any

import msgspec

import eventbook
from apps.orders import seed
from apps.orders.api_keys import ApiKeys, Role
from apps.orders.domain.events import order_events
from apps.orders.domain.order import Order, utc_now
from apps.orders.feed import Feed, InProcessFeed, RedisFeed
from apps.orders.handlers import register_handlers
from apps.orders.monitoring import MetricsHistory, StoreSizes
from apps.orders.personal import Forgotten, forget_customer, open_personal_data
from apps.orders.projections import (
    FEED_PREFIX,
    active_builds,
    open_database,
    order_projections,
)
from apps.orders.queries import Queries
from apps.orders.read_models.order_detail import NAME as ORDER_DETAIL
from apps.orders.read_models.order_detail import order_detail_builds, order_detail_view
from apps.orders.rebuilds import Rebuild, RebuildRefused, Rebuilds
from apps.orders.settings import Settings
from eventbook import CommandBus, Repository, snapshot_every
from eventbook.observability import Observability, Readiness
from eventbook.projections import (
    Projection,
    ProjectionDaemon,
    RunnerSettings,
    SearchSink,
    setup_projection,
)

log = logging.getLogger("orders")

SNAPSHOT_EVERY = 50
DEMO_ROLES = (Role.OPERATOR, Role.WRITER, Role.READER)


class OrdersService:
    """Everything the HTTP API needs, started and stopped together."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.demo_keys: dict[Role, str] = {}
        self.background: set[asyncio.Task[None]] = set()
        self._daemon: ProjectionDaemon | None = None
        self._daemon_task: asyncio.Task[None] | None = None
        self.observability = Observability(stuck_after=settings.stuck_after)
        self._redis_client: Any = None

    async def start(self) -> None:
        directory = self.settings.data_directory()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        observed = self.observability
        self.store = observed.store(await eventbook.connect(self.settings.events_url))
        self.personal = await open_personal_data(self.settings)
        self.events = order_events(self.personal)
        self.orders = observed.repository(
            Repository(self.store, Order, self.events, snapshots=snapshot_every(SNAPSHOT_EVERY))
        )
        self.bus = observed.bus(CommandBus(self.store))
        register_handlers(self.bus, self.orders, clock=utc_now)
        self.database = await open_database(self.settings.read_models_url)
        redis = self._redis_client = self._redis()
        in_code = order_projections(
            self.database,
            self.events,
            redis=redis,
            order_detail=self.settings.order_detail_builds,
            order_list_partitions=self.settings.order_list_partitions,
        )
        # Each at the version readers see now: a rebuild may have switched to a newer one.
        defined = await active_builds(in_code)
        # What the next build of each is made from: the active version, the partition
        # count the code and settings ask for now (the active build keeps its own).
        wanted = {p.name: p.partitions for p in in_code}
        self.definitions = {
            p.name: dataclasses.replace(p, partitions=wanted[p.name]) for p in defined
        }
        self.projections = observed.projections(defined)
        self.by_name = {p.name: p for p in self.projections}
        self.rebuilds = Rebuilds(
            self.store,
            observe=lambda p: observed.projections([p])[0],
            on_batch=observed.on_batch,
            on_switch=self._switched,
            runner_states=lambda: self._runner_states().get("runner_states", {}),
            settings=RunnerSettings(batch_size=self.settings.rebuild_batch_size),
        )
        search = self.by_name["order_search"].sink
        assert isinstance(search, SearchSink)
        builds = order_detail_builds(self.database, self.events.upcast, redis=redis)
        detail = order_detail_view(builds)
        self.queries = Queries(self.database, search, detail)
        self.store_sizes = StoreSizes(self.store)
        self.metrics_history = MetricsHistory(observed.registry, self.collect_metrics)
        self.api_keys = ApiKeys(self.store)
        await self.api_keys.start()
        await self._register_keys()
        self.feed: Feed = (
            InProcessFeed(self.store, frozenset({"order"}))
            if redis is None
            else RedisFeed(redis, FEED_PREFIX)
        )
        await self.feed.start()
        if self.settings.run_projections:
            self._daemon = ProjectionDaemon(
                self.store, self.projections, on_batch=observed.on_batch
            )
            await self._daemon.__aenter__()
        else:
            for projection in self.projections:
                await setup_projection(projection)
        self.metrics_history.start()
        if self.settings.seed_orders > 0 and await self._store_is_new():
            log.info("seeding %d orders through the command path", self.settings.seed_orders)
            await seed.seed(self.store, self.orders, self.settings.seed_orders)

    async def stop(self) -> None:
        await self.metrics_history.stop()
        await self.rebuilds.stop()
        if self._daemon is not None:
            await self._daemon.__aexit__(None, None, None)
        with contextlib.suppress(Exception):
            await self.feed.stop()
        await self.api_keys.stop()
        await self.database.close()
        await self.personal.keyring.store.close()
        await self.store.close()

    async def forget_customer(self, customer_id: str) -> Forgotten:
        """Destroy the customer's key and rebuild the read models (`personal.forget_customer`):
        blue/green through `self.rebuilds`, which runs the new builds on after the switch.

        With the projections in this process, its own cache is the only one to expire;
        otherwise the daemon's is given ORDERS_KEY_CACHE_SECONDS first.
        """
        wait = 0.0 if self.settings.run_projections else self.settings.key_cache_seconds

        async def blue_green(name: str) -> Rebuild:
            return await self.rebuilds.complete(
                lambda: self.by_name[name], lambda: self.definitions[name]
            )

        return await forget_customer(
            customer_id,
            self.personal,
            self.store,
            list(self.projections),
            wait_for_caches=wait,
            blue_green=blue_green,
        )

    def projection(self, name: str) -> Projection[Any] | None:
        return self.by_name.get(name)

    async def serving(self, name: str) -> Projection[Any] | None:
        """The build readers of `name` are served by now (the active one, for a view that
        can move between stores): the one to wait for before reading it."""
        if name == ORDER_DETAIL:
            _, reader = await self.queries.order_detail.reader()
            return reader.projection
        return self.by_name.get(name)

    def rebuild(self, name: str) -> Rebuild:
        """Start a blue/green rebuild of the projection `name` (see apps/orders/rebuilds.py)."""
        if name == ORDER_DETAIL:
            raise RebuildRefused(
                "rebuild-not-supported",
                f"{name}'s builds are numbered by the store they live in (1 SQL, 2 Redis):"
                " build, switch and drop them with `eventbook projections` (docs/projections.md,"
                " 'Moving a view to another store')",
            )
        return self.rebuilds.start(self.by_name[name], self.definitions[name])

    def _switched(self, new: Projection[Any]) -> None:
        """Readers see `new` now: status, readiness and metrics follow it."""
        self.definitions[new.name] = dataclasses.replace(
            self.definitions[new.name], version=new.version
        )
        self.projections = [new if p.name == new.name else p for p in self.projections]
        self.by_name[new.name] = new

    async def collect_metrics(self) -> None:
        """Read the projections' status (and the store's horizon) into the gauges."""
        await self.observability.collect(self.store, self.projections, **self._runner_states())

    async def readiness(self) -> Readiness:
        """The store, each projection build, and Redis when the service uses it."""
        probes = {}
        if self._redis_client is not None:
            probes["redis"] = self._redis_client.ping
        return await self.observability.readiness(
            self.store, self.projections, probes=probes, **self._runner_states()
        )

    def _runner_states(self) -> dict[str, Any]:
        states = self.rebuilds.runner_states()
        if self._daemon is not None:
            states = {**self._daemon.states(), **states}
        return {"runner_states": states} if states else {}

    def _redis(self) -> Any:
        if self.settings.redis_url is None:
            return None
        from redis.asyncio import Redis

        return Redis.from_url(self.settings.redis_url)

    async def _store_is_new(self) -> bool:
        return [e async for e in self.store.read_all(limit=1, categories=["order"])] == []

    async def _register_keys(self) -> None:
        for role, key in (
            (Role.OPERATOR, self.settings.operator_key),
            (Role.WRITER, self.settings.writer_key),
            (Role.READER, self.settings.reader_key),
        ):
            if not key:
                continue
            name = f"{role.value} key from the environment"
            found = await self.api_keys.register(key, role, name)
            if found.revoked_at is not None:
                log.warning("ORDERS_%s_KEY was revoked: it is refused", role.name)
        directory = self.settings.data_directory()
        if self.settings.profile == "embedded" and directory is not None:
            await self._demo_keys(directory / "demo-api-keys.json")

    async def _demo_keys(self, path: Path) -> None:
        """Keys for trying the embedded service, kept beside its data (only hashes are
        events); one that was revoked meanwhile is replaced by a new one."""
        saved = _read_keys(path)
        for role in DEMO_ROLES:
            key = saved.get(role)
            if key is not None:
                found = await self.api_keys.register(key, role, f"demo {role.value} key")
                if found.revoked_at is None and found.role is role:
                    self.demo_keys[role] = key
                    continue
            self.demo_keys[role], _ = await self.api_keys.issue(role, f"demo {role.value} key")
        if self.demo_keys != saved:
            _write_keys(path, self.demo_keys)


def _read_keys(path: Path) -> dict[Role, str]:
    if not path.exists():
        return {}
    saved = msgspec.json.decode(path.read_bytes(), type=dict[str, str])
    return {Role(role): key for role, key in saved.items()}


def _write_keys(path: Path, keys: dict[Role, str]) -> None:
    # Created readable by its owner only, before a key is written into it.
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(msgspec.json.encode({role.value: key for role, key in keys.items()}))


async def order_repository(store: eventbook.EventStore) -> Repository[Order]:
    """The orders' repository on `store`: what `eventbook state --app` folds history with,
    e.g. `eventbook state order-42 --at-version 3 --app apps.orders.service:order_repository`
    (with the service's ORDERS_* variables, for the key that decrypts customers' data)."""
    personal = await open_personal_data(Settings.from_env())
    events = order_events(personal)
    return Repository(store, Order, events, snapshots=snapshot_every(SNAPSHOT_EVERY))
