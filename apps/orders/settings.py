"""The service's configuration: every environment variable is read here and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROFILES = ("embedded", "production")


@dataclass(frozen=True)
class Settings:
    """How the Orders service runs. `Settings.from_env()` documents every variable."""

    profile: str = "embedded"
    events_url: str = "sqlite:///.data/orders.db"
    read_models_url: str = "sqlite:///.data/read-models.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    seed_orders: int = 3000
    run_projections: bool = True
    operator_key: str | None = None
    writer_key: str | None = None
    reader_key: str | None = None
    anonymous_reads: bool = False
    metrics_access: str = "operator"
    max_body_bytes: int = 64 * 1024
    log_format: str = "text"
    stuck_after: float = 60.0
    order_detail_builds: tuple[str, ...] = ("sql",)
    rebuild_batch_size: int = 1000
    order_list_partitions: int = 1
    master_key: str | None = field(default=None, repr=False)
    """Base64 of the 32-byte key that wraps the customers' data keys; never logged."""
    key_cache_seconds: float = 5.0
    keys_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the ORDERS_* variables (see README.md, "Configuration").

        ORDERS_PROFILE           embedded (default) or production
        ORDERS_EVENTS_URL        event store URL (embedded: sqlite:///.data/orders.db);
                                 nats://… needs ORDERS_READ_MODELS_URL too
        ORDERS_READ_MODELS_URL   read-model database (embedded: sqlite:///.data/read-models.db)
        ORDERS_REDIS_URL         Redis for the live feed (production)
        ORDERS_HOST, ORDERS_PORT where the HTTP API listens (127.0.0.1:8000)
        ORDERS_SEED_ORDERS       orders generated on the first start of an empty store (3000)
        ORDERS_RUN_PROJECTIONS   run the projection daemon inside the API process (1/0)
        ORDERS_OPERATOR_KEY, ORDERS_WRITER_KEY, ORDERS_READER_KEY
                                 API keys to accept, besides issued ones
        ORDERS_ANONYMOUS_READS   1: queries and the feed answer without a key (UNSAFE:
                                 they return customers' names and addresses) (0)
        ORDERS_METRICS_ACCESS    operator (default: /metrics needs an operator key, as
                                 X-API-Key or Authorization: Bearer) or open
        ORDERS_MAX_BODY_BYTES    the largest request body accepted; larger is 413 (65536)
        ORDERS_LOG_FORMAT        text (default) or json: one line per request, and the rest
        ORDERS_STUCK_AFTER       seconds behind without progress before a projection is
                                 stuck and /health/ready answers 503 (60)
        ORDERS_ORDER_DETAIL_BUILDS
                                 the order page's builds the daemon runs: sql, redis or
                                 sql,redis while moving it (sql); readers follow the
                                 active one either way
        ORDERS_REBUILD_BATCH_SIZE events per transaction of a blue/green rebuild (1000):
                                 smaller batches show progress more often
        ORDERS_ORDER_LIST_PARTITIONS
                                 partitions of the order list's projection (1..256; 1):
                                 each has its own checkpoint and lease, and daemons share
                                 them. Applies to a new build: on an existing database,
                                 rebuild the order list (blue/green) to change the count
        ORDERS_MASTER_KEY        base64 of 32 random bytes: wraps the keys that encrypt the
                                 customers' personal data (production: required; embedded:
                                 made once into <data directory>/master-key)
        ORDERS_KEYS_URL          where the customers' keys live (default: the event store;
                                 for nats://, the read-model database)
        ORDERS_KEY_CACHE_SECONDS how long a process trusts a cached customer key; a forget
                                 waits this long before rebuilding the read models (5)
        OTEL_*                   the OpenTelemetry SDK's own variables (tracing)
        """
        env = os.environ if env is None else env
        profile = env.get("ORDERS_PROFILE", "embedded")
        if profile not in PROFILES:
            raise ValueError(f"ORDERS_PROFILE must be one of {PROFILES}, not {profile!r}")
        embedded = profile == "embedded"
        events_url = env.get("ORDERS_EVENTS_URL", cls.events_url if embedded else "")
        if not events_url:
            raise ValueError("the production profile needs ORDERS_EVENTS_URL (postgresql://…)")
        if events_url.startswith("nats://") and not env.get("ORDERS_READ_MODELS_URL"):
            # A NATS store holds events only: the read models need a database of their own.
            raise ValueError(
                "a nats:// event store needs ORDERS_READ_MODELS_URL (postgresql://… or sqlite:///…)"
            )
        redis_url = env.get("ORDERS_REDIS_URL") or None
        if not embedded and redis_url is None:
            raise ValueError("the production profile needs ORDERS_REDIS_URL (redis://…)")
        master_key = env.get("ORDERS_MASTER_KEY") or None
        if not embedded and master_key is None:
            raise ValueError(
                "the production profile needs ORDERS_MASTER_KEY (base64 of 32 random bytes:"
                " python -c 'import secrets, base64; print(base64.b64encode("
                "secrets.token_bytes(32)).decode())')"
            )
        return cls(
            profile=profile,
            events_url=events_url,
            read_models_url=env.get(
                "ORDERS_READ_MODELS_URL", cls.read_models_url if embedded else events_url
            ),
            redis_url=redis_url,
            host=env.get("ORDERS_HOST", cls.host),
            port=_int(env, "ORDERS_PORT", cls.port),
            seed_orders=_int(env, "ORDERS_SEED_ORDERS", cls.seed_orders if embedded else 0),
            run_projections=env.get("ORDERS_RUN_PROJECTIONS", "1" if embedded else "0") == "1",
            operator_key=env.get("ORDERS_OPERATOR_KEY") or None,
            writer_key=env.get("ORDERS_WRITER_KEY") or None,
            reader_key=env.get("ORDERS_READER_KEY") or None,
            anonymous_reads=_choice(env, "ORDERS_ANONYMOUS_READS", ("0", "1")) == "1",
            metrics_access=_choice(env, "ORDERS_METRICS_ACCESS", ("operator", "open")),
            max_body_bytes=_int(env, "ORDERS_MAX_BODY_BYTES", cls.max_body_bytes, least=1),
            log_format=_choice(env, "ORDERS_LOG_FORMAT", ("text", "json")),
            stuck_after=_seconds(env, "ORDERS_STUCK_AFTER", cls.stuck_after),
            order_detail_builds=_detail_builds(env, redis_url),
            rebuild_batch_size=_int(
                env, "ORDERS_REBUILD_BATCH_SIZE", cls.rebuild_batch_size, least=1
            ),
            order_list_partitions=_int(
                env, "ORDERS_ORDER_LIST_PARTITIONS", cls.order_list_partitions, least=1, most=256
            ),
            master_key=master_key,
            keys_url=env.get("ORDERS_KEYS_URL") or None,
            key_cache_seconds=_seconds(env, "ORDERS_KEY_CACHE_SECONDS", cls.key_cache_seconds),
        )

    def data_directory(self) -> Path | None:
        """The directory of a SQLite event store, created on demand; None otherwise."""
        if not self.events_url.startswith("sqlite:///"):
            return None
        path = Path(self.events_url.removeprefix("sqlite:///"))
        return path.parent


def _detail_builds(env: Mapping[str, str], redis_url: str | None) -> tuple[str, ...]:
    raw = env.get("ORDERS_ORDER_DETAIL_BUILDS", "sql")
    builds = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not builds or not set(builds) <= {"sql", "redis"}:
        raise ValueError(f"ORDERS_ORDER_DETAIL_BUILDS lists sql and/or redis, not {raw!r}")
    if "redis" in builds and redis_url is None:
        raise ValueError("ORDERS_ORDER_DETAIL_BUILDS=redis needs ORDERS_REDIS_URL (redis://…)")
    return builds


def _int(
    env: Mapping[str, str],
    name: str,
    default: int,
    least: int | None = None,
    most: int | None = None,
) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if least is not None and value < least:
        raise ValueError(f"{name} must be at least {least}, not {raw!r}")
    if most is not None and value > most:
        raise ValueError(f"{name} must be at most {most}, not {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, choices[0])
    if raw not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {raw!r}")
    return raw


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be more than 0 seconds, not {raw!r}")
    return value
