"""The collaborators a `NatsEventStore` shares with its lifecycle and removal."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext

from eventbook._backends.nats.direct import DirectReader
from eventbook._backends.nats.options import NatsOptions
from eventbook._backends.nats.subjects import Subjects


@dataclass(frozen=True)
class StoreParts:
    """One store's connection, its JetStream context, its subjects, the readers of its
    two JetStream streams (events, snapshots) and its options."""

    client: Client
    js: JetStreamContext
    subjects: Subjects
    events: DirectReader
    snapshots: DirectReader
    options: NatsOptions
