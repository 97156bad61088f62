"""The NATS JetStream event store (`eventbook[nats]`): the only module importing nats-py."""

from eventbook._backends.nats.options import NatsOptions
from eventbook._backends.nats.store import NatsEventStore

__all__ = ["NatsEventStore", "NatsOptions"]
