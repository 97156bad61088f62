"""A live feed in Redis Streams: XADD with a MAXLEN cap, idempotent per event.

Redis is not the checkpoint's database, so its writes cannot share the checkpoint's
transaction. Instead they are idempotent and come first: a batch's entries go out in
one Lua script call (atomic in Redis), then the checkpoint moves. After a crash the
batch is replayed, and the script skips every entry already added:

- each entry carries a marker, (event position, index within the event): the script
  adds it only if it sorts after the stream's last marker, kept in a meta hash;
- the meta hash also keeps the highest lease epoch seen: a runner fenced by a newer
  lease (or a reset) is refused, so a stale runner cannot write after a takeover;
- a dead letter retried out of order is deduplicated on its own (event id, index).

Entries get Redis' own ids (`*`) and an `event_id` field. Every key of one sink starts
with its `prefix`; a rebuild deletes them and replays. Builds of one projection share
the keys, so rebuild a Redis feed in place rather than blue/green::

    sink = RedisStreamSink(redis.asyncio.Redis.from_url(url), checkpoints=db, prefix="feed:")

    def placed(event, feed: StreamBatch) -> None:
        feed.add(event, "orders", {"type": event.type, "order": event.stream})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventbook._errors import LeaseLost, ValidationError
from eventbook._store.types import RecordedEvent
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._ports import ProjectionDatabase, Session
from eventbook.projections.sinks._redis import (
    FENCE_LUA,
    MarkedBatch,
    OutsideTheDatabase,
    keep_only_epoch,
    marker,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

Value = str | bytes | int | float

_SCRIPT = (
    "local maxlen, trim, late, epoch = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])"
    + FENCE_LUA
    + """local last, added, i = {}, 0, 5
while i <= #ARGV do
  local k = tonumber(ARGV[i])
  local stream, marker, n = KEYS[k], ARGV[i + 1], tonumber(ARGV[i + 3])
  local fresh
  if late then
    fresh = redis.call('HSETNX', meta, 'late:' .. stream .. ':' .. marker, 1) == 1
  else
    if last[k] == nil then last[k] = redis.call('HGET', meta, 'last:' .. stream) or '' end
    fresh = marker > last[k]
  end
  if fresh then
    local args = {'XADD', stream, 'MAXLEN', trim, maxlen, '*', 'event_id', ARGV[i + 2]}
    for j = 1, 2 * n do args[#args + 1] = ARGV[i + 3 + j] end
    redis.call(unpack(args))
    if not late then
      last[k] = marker
      redis.call('HSET', meta, 'last:' .. stream, marker)
    end
    added = added + 1
  end
  i = i + 4 + 2 * n
end
return added
"""
)


class StreamBatch(MarkedBatch):
    """Entries for Redis streams, recorded by handlers and sent once per batch."""

    __slots__ = ("entries",)

    def __init__(self, epoch: int, version: int, out_of_order: bool) -> None:
        super().__init__(epoch, version, out_of_order)
        self.entries: list[tuple[str, str, str, list[Value]]] = []

    def add(self, event: RecordedEvent, stream: str, fields: Mapping[str, Value]) -> None:
        """Append an entry for `event` to `stream` (under the sink's prefix)."""
        if not fields:
            raise ValidationError("a stream entry needs at least one field")
        slot = (str(event.id), stream)
        index = self._next_index(slot)
        flat: list[Value] = []
        for name, value in fields.items():
            flat += (name, value)
        self.entries.append((stream, marker(event, index), slot[0], flat))


class RedisStreamSink(OutsideTheDatabase):
    """Redis streams fed by a projection; checkpoints live in `checkpoints`."""

    commits_with_checkpoint = False
    """Writes go to Redis first, fenced by one epoch per build: not partitionable."""

    def __init__(
        self,
        client: Redis,
        *,
        checkpoints: ProjectionDatabase,
        prefix: str,
        maxlen: int = 100_000,
        exact_trim: bool = False,
    ) -> None:
        if not prefix:
            raise ValidationError("a Redis stream sink needs a key prefix of its own")
        if maxlen < 1:
            raise ValidationError(f"maxlen must be 1 or more, not {maxlen}")
        self.client = client
        self.prefix = prefix
        self.maxlen = maxlen
        self.trim = "=" if exact_trim else "~"
        self._database = checkpoints
        self._script: AsyncScript | None = None

    @property
    def database(self) -> ProjectionDatabase:
        return self._database

    def key(self, stream: str) -> str:
        """The Redis key of one of this sink's streams (for readers: XREAD, XRANGE)."""
        return f"{self.prefix}{stream}"

    def _meta(self, version: int) -> str:
        return f"{self.prefix}eventbook:meta:v{version}"

    def begin(self, session: Session, version: int, *, out_of_order: bool = False) -> StreamBatch:
        return StreamBatch(session.epoch, version, out_of_order)

    async def flush(self, batch: StreamBatch) -> WriteBuffer | None:
        if not batch.entries:
            return None
        keys = [self._meta(batch.version)]
        slots: dict[str, int] = {}
        args: list[Value] = [
            self.maxlen,
            self.trim,
            1 if batch.out_of_order else 0,
            batch.epoch,
        ]
        for stream, mark, event_id, flat in batch.entries:
            slot = slots.get(stream)
            if slot is None:
                keys.append(self.key(stream))
                slot = slots[stream] = len(keys)
            args += (slot, mark, event_id, len(flat) // 2, *flat)
        if self._script is None:
            self._script = self.client.register_script(_SCRIPT)
        added: Any = await self._script(keys=keys, args=args)
        if int(added) < 0:
            raise LeaseLost("redis feed", f"a newer lease wrote to {self.prefix}* already")
        return None

    async def clear(self, version: int, epoch: int) -> None:
        """Delete the sink's streams; keep `epoch` as a floor that fences older runners."""
        meta = self._meta(version)
        await self.client.hset(meta, "epoch", epoch)  # fence first, then delete
        async for key in self.client.scan_iter(match=f"{_escape(self.prefix)}*", count=1000):
            if key not in (meta, meta.encode()):
                await self.client.delete(key)
        await keep_only_epoch(self.client, meta, epoch)


def _escape(prefix: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)
