"""Every error eventbook raises on purpose, in one place.

Catch `EventbookError` for all of them, or a branch of the tree::

    EventbookError
    ├── ValidationError (also a ValueError)        bad input; nothing was written
    │   ├── CommandValidationError                 a command's payload does not fit its type
    │   ├── UnknownCommandError                    no handler for this command type
    │   └── CommandIdReused                        a command id reused for another command
    ├── ConcurrencyError                           the stream was not at the expected version
    ├── DuplicateEventError                        an event id stored already, not a retry
    ├── StreamNotFound                             a stream that must exist has no events
    │   └── StreamDeleted                          ... because it was deleted or tombstoned
    ├── SchemaVersionError                         the database schema is not this version's
    ├── StoreClosed                                the store was used after close()
    ├── UnavailableError                           the backend could not be reached
    ├── NotSupported                               this backend does not offer the operation
    ├── UnknownEventType                           a stored type no class is registered for
    ├── EventSchemaError                           stored data cannot be upcast or read
    ├── DomainError                                a business rule refused a command
    ├── PersonalDataError                          personal data (eventbook.personal)
    │   ├── MasterKeyError                         the master key is missing or not the one
    │   │                                          that wrapped the stored data keys
    │   ├── DataKeyMissing                         a subject's key was never stored (not forgotten)
    │   └── SubjectForgotten                       personal data written for a forgotten subject
    └── ProjectionError                            the read side (eventbook.projections)
        ├── LeaseLost                              another runner took the projection over
        ├── HandlerFailed                          a handler raised on one event
        │   └── InlineProjectionError              ... inside an append's transaction
        ├── ProjectionHalted                       a build stopped at a parked event
        ├── ProjectionTimeout (also TimeoutError)  wait_for gave up
        ├── ParkedEventNotFound (also LookupError)
        ├── UnknownProjection (also LookupError)
        ├── NoActiveBuild (also LookupError)       a view's projection has no build to read
        ├── ModeMismatch                           inline vs async registration disagree
        └── PartitionMismatch                      a build's partition count changed

The write-side and store errors are exported by `eventbook`, the read side's by
`eventbook.projections`, the personal-data ones by `eventbook.personal`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from eventbook._store.types import Expected, RecordedEvent


class EventbookError(Exception):
    """Base class of the errors eventbook raises on purpose."""


# -- bad input ---------------------------------------------------------------------------


class ValidationError(EventbookError, ValueError):
    """Input was rejected before anything was written."""


class CommandValidationError(ValidationError):
    """A command's payload does not fit its type. `problems` maps each field to what is wrong."""

    def __init__(self, command_type: str, problems: dict[str, str]) -> None:
        self.command_type = command_type
        self.problems = problems
        listed = "; ".join(f"{field}: {problem}" for field, problem in problems.items())
        super().__init__(f"{command_type} is invalid: {listed}")


class UnknownCommandError(ValidationError):
    """No handler is registered for this command type."""


class CommandIdReused(ValidationError):
    """A command id already ran with another command or payload; nothing was written."""

    def __init__(self, command_id: str, stored_type: object) -> None:
        self.command_id = command_id
        super().__init__(
            f"command id {command_id!r} was already used for a different command"
            f" ({stored_type}, other payload); use a new id for a new command"
        )


# -- the event store -----------------------------------------------------------------------


class ConcurrencyError(EventbookError):
    """The stream's version was not the one the append expected; nothing was written."""

    def __init__(self, stream: str, expected: Expected, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        shown = expected.name if hasattr(expected, "name") else expected
        super().__init__(
            f"stream {stream!r}: expected version {shown}, but the stream is at version {actual}"
        )


class DuplicateEventError(EventbookError):
    """An event id is already stored, but the batch is not a retry of the stored one."""

    def __init__(self, event_id: object, reason: str) -> None:
        self.event_id = event_id
        super().__init__(f"event id {event_id} is already stored: {reason}")


class StreamNotFound(EventbookError):
    """A reader asked for a stream that has no events."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(f"stream {stream!r} does not exist")


class StreamDeleted(StreamNotFound):
    """The stream was deleted (`hard=False`: soft, a new history may start) or tombstoned
    (`hard=True`: its name can never be used again).

    A subclass of `StreamNotFound`, so code that treats a missing stream as "not there"
    treats a deleted one the same way; appending to it raises this, too.
    """

    def __init__(self, stream: str, *, hard: bool) -> None:
        super().__init__(stream)
        self.hard = hard
        what = (
            "tombstoned: its name cannot be used again"
            if hard
            else ("deleted; append with restart=True to start a new history")
        )
        self.args = (f"stream {stream!r} was {what}",)


class SchemaVersionError(EventbookError):
    """The database schema does not match this version of eventbook (newer, or older with
    migrations turned off)."""


class StoreClosed(EventbookError):
    """The store was used after `close()`."""


class UnavailableError(EventbookError):
    """The backend could not be reached or gave up; the operation may not have happened."""


class NotSupported(EventbookError):
    """The backend does not offer an optional operation of the port (see its docs)."""


# -- reading events as types -----------------------------------------------------------------


class UnknownEventType(EventbookError):
    """A stored event's type name is not registered (even after its upcasters)."""

    def __init__(self, type_name: str, event: RecordedEvent | None = None) -> None:
        self.type_name = type_name
        self.event = event
        where = f" (stream {event.stream!r}, version {event.version})" if event else ""
        super().__init__(
            f"stored event type {type_name!r}{where} is not registered; register its class,"
            " or an upcaster that renames it to a registered type"
        )


class EventSchemaError(EventbookError):
    """Stored event data cannot be brought to, or read as, the current schema."""


# -- the write side -----------------------------------------------------------------------


class DomainError(EventbookError):
    """A command broke a business rule; nothing was recorded. Subclass it for each rule."""


# -- the read side -----------------------------------------------------------------------


class PersonalDataError(EventbookError):
    """Personal data could not be encrypted or decrypted (never: the subject was forgotten,
    which reads as a placeholder)."""


class MasterKeyError(PersonalDataError):
    """No master key was configured, or it is not the key that wrapped the stored data keys."""


class DataKeyMissing(PersonalDataError):
    """Encrypted data names a subject whose key the key store never held: the key table was
    lost or is not the one these events were written with. A forgotten subject is not this."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(
            f"no data key for subject {subject!r}, and no record that it was forgotten:"
            " is the key store the one these events were written with?"
        )


class SubjectForgotten(PersonalDataError):
    """Personal data was to be written for a subject that was forgotten."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"subject {subject!r} was forgotten; its personal data is not kept")


class ProjectionError(EventbookError):
    """Base class of the read side's errors."""


class LeaseLost(ProjectionError):
    """Another runner took over this projection; this one must stop writing.

    Raised when the checkpoint compare-and-set finds a newer lease epoch (or a moved
    checkpoint): the batch in flight was rolled back, nothing of it is kept.
    """

    def __init__(self, projection: str, detail: str = "") -> None:
        self.projection = projection
        super().__init__(
            f"projection {projection!r} lost its lease{': ' + detail if detail else ''};"
            " the batch in flight was rolled back"
        )


class HandlerFailed(ProjectionError):
    """A handler raised while processing one event (kept with the event for retries)."""

    def __init__(self, projection: str, event_id: UUID, event_type: str, cause: BaseException):
        self.projection = projection
        self.event_id = event_id
        self.event_type = event_type
        self.cause = cause
        super().__init__(
            f"projection {projection!r} failed on {event_type} {event_id}:"
            f" {type(cause).__name__}: {cause}"
        )


class ProjectionHalted(ProjectionError):
    """A catch-up or rebuild met an event that halts the build (policy `OnFailure.STOP`):
    it cannot get further until the event is retried or discarded."""

    def __init__(self, projection: str) -> None:
        self.projection = projection
        super().__init__(
            f"projection {projection!r} is halted at a parked event;"
            " retry or discard it (see its parked events) to go on"
        )


class InlineProjectionError(HandlerFailed):
    """An inline projection failed inside an append; the append was not stored."""


class ProjectionTimeout(ProjectionError, TimeoutError):
    """`wait_for` gave up before the projection reached the position."""

    def __init__(
        self,
        projection: str,
        wanted: str,
        reached: str | None,
        behind: str,
        waited: float,
        note: str = "",
    ) -> None:
        self.projection = projection
        self.wanted = wanted
        self.reached = reached
        self.behind = behind
        super().__init__(
            f"projection {projection!r} did not reach position {wanted} within {waited:.3g}s:"
            f" it is at {reached or 'the start'}, {behind} event(s) behind{note}"
        )


class ParkedEventNotFound(ProjectionError, LookupError):
    """No parked event with that id for that projection."""

    def __init__(self, projection: str, event_id: UUID) -> None:
        super().__init__(f"projection {projection!r} has no parked event {event_id}")


class UnknownProjection(ProjectionError, LookupError):
    """The projection has never been registered in this database."""

    def __init__(self, projection: str) -> None:
        super().__init__(
            f"projection {projection!r} is not known to this database;"
            " it appears once a daemon (or `setup_projection`) has set it up"
        )


class NoActiveBuild(ProjectionError, LookupError):
    """A view cannot be read: no build of its projection is active, or the active one is a
    version the view has no reader for (deploy the readers before switching to it)."""


class ModeMismatch(ProjectionError):
    """A build set up inline is started in a daemon, or the other way round.

    Its read model was built without a checkpoint (inline) or up to one (async), so
    running it the other way would apply events again: give it a new version instead.
    """

    def __init__(self, name: str, version: int, registered: str, wanted: str) -> None:
        super().__init__(
            f"projection '{name}@v{version}' runs {registered}; it cannot also run {wanted}"
            f" (events would apply twice). Build version {version + 1} {wanted} instead and"
            " switch to it"
        )


class PartitionMismatch(ProjectionError):
    """A build set up with one partition count is started with another.

    Each partition's checkpoint covers the events that hash to it; another count would
    send events to partitions whose checkpoints have passed them (lost) or not (applied
    twice): build a new version with the new count instead.
    """

    def __init__(self, name: str, version: int, registered: int, wanted: int) -> None:
        super().__init__(
            f"projection '{name}@v{version}' has {registered} partition(s); it cannot run"
            f" with {wanted} (events would be lost or applied twice). Build version"
            f" {version + 1} with {wanted} partition(s) instead and switch to it"
        )
