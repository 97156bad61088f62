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

E = TypeVar("E")


class Bookkeeping(Generic[E]):
    """What a repository keeps about one aggregate beside its state: stream, version, pending.

    Each aggregate holds one; users read it through `stream`, `version` and
    `pending_events`. Only a repository writes it (through its snapshotter and state
    cache too), and test scenarios when they replay their given events:

        book = Bookkeeping.of(aggregate)
        for event in stored: aggregate.apply(event)
        book.version = stored_version
    """

    __slots__ = ("pending", "read_only", "snapshot_at", "stream", "unverified", "version")

    def __init__(self) -> None:
        self.stream = ""
        self.version = 0
        """The version of the last stored event applied."""
        self.pending: list[E] = []
        """Events recorded and not yet stored, oldest first."""
        self.snapshot_at = 0
        """The version of the newest stored snapshot, for the snapshot policy."""
        self.read_only: str | None = None
        """Why saving is refused (loaded as history, its command was stored already)."""
        self.unverified = False
        """A cached state taken as it is, not checked against the store."""

    @staticmethod
    def of(aggregate: Aggregate[E]) -> Bookkeeping[E]:
        """The aggregate's bookkeeping; a `TypeError` if its `__init__` skipped super's."""
        try:
            return aggregate._bookkeeping
        except AttributeError:
            raise TypeError(
                f"{type(aggregate).__name__}.__init__ must call super().__init__()"
            ) from None

    def bind(self, stream: str) -> None:
        """Belong to `stream`, with nothing pending (events an `__init__` recorded are state)."""
        self.pending.clear()
        self.stream = stream

    def restored(self, version: int, *, snapshot_at: int | None = None) -> None:
        """The state was set from a snapshot of `version` (or from a cached state of
        `version`, the newest stored snapshot being at `snapshot_at`)."""
        self.version = version
        self.snapshot_at = version if snapshot_at is None else snapshot_at

    def committed(self, version: int) -> None:
        """The pending events were stored, the last of them at `version`."""
        self.pending.clear()
        self.version = version


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
        # One attribute, so a subclass's own names can hardly collide with the bookkeeping.
        self._bookkeeping: Bookkeeping[E] = Bookkeeping()

    @property
    def stream(self) -> str:
        """The stream this aggregate was loaded from ('' when built by hand)."""
        return self._bookkeeping.stream

    @property
    def version(self) -> int:
        """The version of the last stored event applied (0 for a new aggregate)."""
        return self._bookkeeping.version

    @property
    def pending_events(self) -> tuple[E, ...]:
        """Events recorded since the aggregate was loaded or last saved."""
        return tuple(self._bookkeeping.pending)

    def record(self, event: E) -> None:
        """Apply a new event to the state and keep it for the next save."""
        pending = Bookkeeping.of(self).pending
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

    def __repr__(self) -> str:
        book = getattr(self, "_bookkeeping", None) or Bookkeeping()
        shown = f", {len(book.pending)} pending" if book.pending else ""
        return f"<{type(self).__name__} {book.stream!r} v{book.version}{shown}>"
