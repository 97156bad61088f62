"""Who issued a command and why: its ids, and the metadata each of its events carries.

A command's events get ids derived from the command id (so the store itself notices a
command that runs twice), the hash of the command's payload (so a reused id with other
data is recognised), and the correlation, causation, actor and time of the command.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import msgspec

from eventbook._errors import ValidationError
from eventbook._store.encoding import check_name
from eventbook._store.ids import uuid7, uuid_from_int
from eventbook._store.types import AppendResult, Position, RecordedEvent
from eventbook._write.messages import SCHEMA_VERSION
from eventbook._write.stream_turns import StreamTurns
from eventbook._write.validation import check_command

# The metadata keys eventbook writes into every event a command produces.
COMMAND_ID = "command_id"
COMMAND_TYPE = "command_type"
COMMAND_HASH = "command_hash"
CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
ACTOR = "actor"
OCCURRED_AT = "occurred_at"

RESERVED_KEYS = frozenset(
    {
        COMMAND_ID,
        COMMAND_TYPE,
        COMMAND_HASH,
        CORRELATION_ID,
        CAUSATION_ID,
        ACTOR,
        OCCURRED_AT,
        SCHEMA_VERSION,
    }
)

# Fixed namespaces: the same command id must give the same event ids in every process.
_EVENT_IDS = UUID("6f0a2b64-3c4e-5d1f-9a7b-2e8c1d0f4a51")
_REACTION_IDS = UUID("0c7e9d2a-58b1-5f43-8e6d-91a4b3c2d7e0")

_sorted_json = msgspec.json.Encoder(order="sorted").encode
_NOT_VERSION_OR_VARIANT = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5 = (5 << 76) | (0x8000 << 48)


def _new_command_id() -> str:
    return str(uuid7())


class CommandMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What the caller knows about a command besides its payload.

    `command_id` identifies the command: dispatching the same id again returns the first
    result. Pass the client's idempotency key here; leave it out for a fresh id.
    `correlation_id` groups every message of one conversation (it defaults to the command
    id); `causation_id` names what caused the command (the event a reaction reacts to).
    `extra` entries (trace context, tenant, ...) are copied into every event's metadata.
    """

    command_id: str = msgspec.field(default_factory=_new_command_id)
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.command_id) is not str or self.correlation_id or self.causation_id:
            for field in ("command_id", "correlation_id", "causation_id"):
                value = getattr(self, field)
                if isinstance(value, UUID):  # accept UUIDs, keep text
                    msgspec.structs.force_setattr(self, field, str(value))
        check_name("command_id", self.command_id)
        if self.extra and not RESERVED_KEYS.isdisjoint(self.extra):
            reserved = sorted(RESERVED_KEYS.intersection(self.extra))
            raise ValidationError(f"extra metadata must not set the reserved key {reserved[0]!r}")

    @property
    def conversation(self) -> str:
        """The correlation id events carry: the given one, else the command's own id."""
        return self.correlation_id or self.command_id

    @classmethod
    def caused_by(
        cls, event: RecordedEvent, *, reaction: str, actor: str | None = None
    ) -> CommandMetadata:
        """Metadata for a command that a reaction issues because of `event`.

        The command keeps the event's conversation (correlation id) and actor, names the
        event as its cause, and gets an id derived from the event and the `reaction` name:
        a reaction that sees the same event twice issues the same command id twice, and the
        second dispatch changes nothing.
        """
        check_name("reaction", reaction)
        metadata = event.metadata
        correlation = metadata.get(CORRELATION_ID)
        inherited_actor = metadata.get(ACTOR)
        return cls(
            command_id=str(uuid5(_REACTION_IDS, f"{event.id}/{reaction}")),
            correlation_id=correlation if isinstance(correlation, str) else str(event.id),
            causation_id=str(event.id),
            actor=actor if actor is not None else inherited_actor,
        )


def command_hash(command_type: str, payload: object) -> str:
    """A stable digest of a command's type and plain (JSON) payload."""
    digest = hashlib.sha256(command_type.encode())
    digest.update(b"\0")
    digest.update(_sorted_json(payload))
    return digest.hexdigest()[:32]


class SavedBatch(msgspec.Struct, frozen=True):
    """What one command's save appended (or found appended by an earlier run)."""

    stream: str
    version: int
    position: Position
    event_ids: tuple[UUID, ...]
    replayed: bool


class CommandContext:
    """One attempt at handling one command; handlers pass it to `Repository.save`.

    It derives the ids and metadata of the events the command produces and remembers
    the one save a command is allowed (one command changes one aggregate; reactions
    change others).
    """

    def __init__(
        self,
        command_type: str,
        command_hash: str,
        metadata: CommandMetadata,
        *,
        attempt: int = 1,
        now: datetime | None = None,
        turns: StreamTurns | None = None,
    ) -> None:
        self.command_type = command_type
        self._turns = turns
        self.command_hash = command_hash
        self.metadata = metadata
        self.attempt = attempt
        self.started_at = now or datetime.now(UTC)
        self.saved: SavedBatch | None = None
        self._id_prefix: bytes | None = None

    @classmethod
    def for_command(
        cls, command: object, metadata: CommandMetadata | None = None, *, name: str | None = None
    ) -> CommandContext:
        """A context for handling `command` outside a `CommandBus` (scripts, tests)."""
        command_type = name or type(command).__name__
        _, payload = check_command(command_type, command)  # hashed as the bus hashes it
        return cls(command_type, command_hash(command_type, payload), metadata or CommandMetadata())

    def exclusive(self, stream: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold `stream` against the other commands of this context's bus while loading,
        deciding and saving (`async with context.exclusive(name): ...`).

        Commands of one bus on one stream then take turns instead of conflicting, so the
        bus's retries are spent only on conflicts with other processes. Outside a bus it
        holds nothing. A handler must not dispatch a command on the stream it holds.
        """
        if self._turns is None:
            return contextlib.nullcontext()
        return self._turns.hold(stream)

    @property
    def command_id(self) -> str:
        return self.metadata.command_id

    @property
    def actor(self) -> str | None:
        return self.metadata.actor

    def event_id(self, index: int) -> UUID:
        """The id of the command's `index`-th event (from 0), the same in every attempt.

        It is `uuid5(namespace, f"{command_id}/{index}")`, computed without re-encoding
        the namespace and the command id for every event.
        """
        if self._id_prefix is None:
            self._id_prefix = _EVENT_IDS.bytes + f"{self.metadata.command_id}/".encode()
        digest = hashlib.sha1(self._id_prefix + str(index).encode()).digest()
        # What UUID(bytes=digest[:16], version=5) computes: the version and variant bits set.
        value = int.from_bytes(digest[:16]) & _NOT_VERSION_OR_VARIANT | _VERSION_5
        return uuid_from_int(value)

    def event_ids(self, count: int) -> list[UUID]:
        return [self.event_id(index) for index in range(count)]

    def event_metadata(self) -> dict[str, Any]:
        """The metadata every event of this command carries.

        `causation_id` is the command's own cause when it has one (the event a reaction
        reacted to), else the command id, so each event links to what came before it.
        """
        meta = self.metadata
        stamped: dict[str, Any] = dict(meta.extra)
        stamped[COMMAND_ID] = meta.command_id
        stamped[COMMAND_TYPE] = self.command_type
        stamped[COMMAND_HASH] = self.command_hash
        stamped[CORRELATION_ID] = meta.conversation
        stamped[CAUSATION_ID] = meta.causation_id or meta.command_id
        if meta.actor is not None:
            stamped[ACTOR] = meta.actor
        stamped[OCCURRED_AT] = self.started_at.isoformat()
        return stamped

    def check_can_save(self, stream: str) -> None:
        if self.saved is not None:
            raise ValidationError(
                f"command {self.command_type} already saved events to {self.saved.stream!r};"
                f" one command changes one aggregate (not also {stream!r}) — let a reaction"
                " change the others"
            )

    def record_save(
        self, stream: str, result: AppendResult, event_ids: list[UUID], *, replayed: bool
    ) -> None:
        self.saved = SavedBatch(stream, result.version, result.position, tuple(event_ids), replayed)
