"""The class style of aggregate: state rebuilt by `apply`, rules checked by command methods.

    class Order(Aggregate[OrderEvent]):
        def __init__(self) -> None:
            super().__init__()
            self.status = "new"

        def ship(self, carrier: str) -> None:          # a command method
            if self.status != "placed":
                raise OrderNotPlaced(self.stream)         # a broken rule records nothing
            self.record(OrderShipped(carrier=carrier))

        def apply(self, event: OrderEvent) -> None:     # the only place state changes
            match event:
                case OrderPlaced(): self.status = "placed"
                case OrderShipped(): self.status = "shipped"

No metaclass and no decorators: a plain class, a `record` method and an `apply` method.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from eventbook.errors import EventbookError

E = TypeVar("E")


class DomainError(EventbookError):
    """A command broke a business rule; nothing was recorded. Subclass it for each rule."""


class Aggregate(Generic[E]):
    """Base class of class-style aggregates. Subclasses call `super().__init__()`.

    A repository builds an aggregate with no arguments and replays its stream through
    `apply`. To be snapshotted, a subclass implements `to_snapshot` and
    `restore_snapshot`, and raises `snapshot_version` whenever their shape changes.
    """

    snapshot_version: ClassVar[int] = 1
    """Raise it when the snapshot shape changes: snapshots taken under another version
    are never read again."""

    snapshot_name: ClassVar[str | None] = None
    """The name in the snapshot schema tag; the class name when `None`."""

    def __init__(self) -> None:
        self._stream = ""
        self._version = 0
        self._pending: list[E] = []
        self._snapshot_at = 0
        self._read_only: str | None = None
        self._unverified = False  # a cached state, not checked against the store

    @property
    def stream(self) -> str:
        """The stream this aggregate was loaded from ('' when built by hand)."""
        return self._stream

    @property
    def version(self) -> int:
        """The version of the last stored event applied (0 for a new aggregate)."""
        return self._version

    @property
    def pending_events(self) -> tuple[E, ...]:
        """Events recorded since the aggregate was loaded or last saved."""
        return tuple(self._pending)

    def record(self, event: E) -> None:
        """Apply a new event to the state and keep it for the next save."""
        try:
            pending = self._pending
        except AttributeError:
            raise TypeError(
                f"{type(self).__name__}.__init__ must call super().__init__()"
            ) from None
        self.apply(event)
        pending.append(event)

    def apply(self, event: E) -> None:
        """Change the state by one event, stored or new. Never check rules here."""
        raise NotImplementedError(f"{type(self).__name__} must define apply(self, event)")

    def to_snapshot(self) -> dict[str, Any]:
        """The state as a JSON object, for snapshots."""
        raise NotImplementedError(
            f"{type(self).__name__} must define to_snapshot() and restore_snapshot() to be"
            " snapshotted"
        )

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        """Set the state from what `to_snapshot` returned."""
        raise NotImplementedError(
            f"{type(self).__name__} must define to_snapshot() and restore_snapshot() to be"
            " snapshotted"
        )

    def snapshot_tag(self) -> str:
        """The schema tag this aggregate's snapshots are stored under."""
        cls = type(self)
        return f"{cls.snapshot_name or cls.__name__}:{cls.snapshot_version}"

    @classmethod
    def supports_snapshots(cls) -> bool:
        return (
            cls.to_snapshot is not Aggregate.to_snapshot
            and cls.restore_snapshot is not Aggregate.restore_snapshot
        )

    # -- bookkeeping for repositories ------------------------------------------------------

    def _bind(self, stream: str) -> None:
        try:
            self._pending.clear()
        except AttributeError:
            raise TypeError(
                f"{type(self).__name__}.__init__ must call super().__init__()"
            ) from None
        self._stream = stream

    def _replayed(self, event: E, version: int) -> None:
        self.apply(event)
        self._version = version

    def _restored(self, state: dict[str, Any], version: int) -> None:
        self.restore_snapshot(state)
        self._version = version
        self._snapshot_at = version

    def _committed(self, version: int) -> None:
        self._pending.clear()
        self._version = version

    def _make_read_only(self, reason: str) -> None:
        self._read_only = reason

    def __repr__(self) -> str:
        pending = len(getattr(self, "_pending", ()))
        shown = f", {pending} pending" if pending else ""
        stream, version = getattr(self, "_stream", ""), getattr(self, "_version", 0)
        return f"<{type(self).__name__} {stream!r} v{version}{shown}>"
