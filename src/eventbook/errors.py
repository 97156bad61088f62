"""Every error eventbook raises on purpose derives from `EventbookError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventbook.store import Expected


class EventbookError(Exception):
    """Base class of the errors eventbook raises on purpose."""


class ValidationError(EventbookError, ValueError):
    """Input was rejected before anything was written."""


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


class StreamNotFound(EventbookError):
    """A reader asked for a stream that has no events."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        super().__init__(f"stream {stream!r} does not exist")


class DuplicateEventError(EventbookError):
    """An event id is already stored, but the batch is not a retry of the stored one."""

    def __init__(self, event_id: object, reason: str) -> None:
        self.event_id = event_id
        super().__init__(f"event id {event_id} is already stored: {reason}")


class SchemaVersionError(EventbookError):
    """The database schema does not match this version of eventbook (newer, or older with
    migrations turned off)."""


class StoreClosed(EventbookError):
    """The store was used after `close()`."""


class UnavailableError(EventbookError):
    """The backend could not be reached or gave up; the operation may not have happened."""
