"""The errors the read side raises on purpose."""

from __future__ import annotations

from uuid import UUID

from eventbook.errors import EventbookError


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
