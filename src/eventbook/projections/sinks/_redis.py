"""What the Redis sinks share: the lease-epoch fence and the markers that make a replayed
batch skip what it applied already (see `redis_streams.py` and `redis_values.py`).

It imports no `redis` at run time, like the sinks themselves.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from eventbook._store.types import RecordedEvent

if TYPE_CHECKING:
    from redis.asyncio import Redis

FENCE_LUA = """
local meta = KEYS[1]
if not late then
  local seen = tonumber(redis.call('HGET', meta, 'epoch') or '0')
  if seen > epoch then return -1 end
  if epoch > seen then redis.call('HSET', meta, 'epoch', epoch) end
end
"""
"""The start of each sink's script, once it has set `late` and `epoch` from its ARGV:
refuses (-1) a lease epoch older than the highest seen in the meta hash (KEYS[1]) and
raises that to this one. A retried dead letter (`late`) is not fenced."""


def marker(event: RecordedEvent, index: int) -> str:
    """Sorts like (position, index): fixed-width digits compare as strings in Lua."""
    position = event.position
    return f"{position.major:020d}:{position.minor:020d}:{index:06d}"


class MarkedBatch:
    """A batch's fence (lease epoch, build version, out of order or not) and the count of
    writes each event has made so far, which numbers them within their event."""

    __slots__ = ("_counts", "epoch", "out_of_order", "version")

    def __init__(self, epoch: int, version: int, out_of_order: bool) -> None:
        self.epoch = epoch
        self.version = version
        self.out_of_order = out_of_order
        self._counts: dict[Hashable, int] = {}

    def _next_index(self, slot: Hashable) -> int:
        """0 for the first write in `slot` (an event, or an event and a stream), then 1, ..."""
        index = self._counts.get(slot, 0)
        self._counts[slot] = index + 1
        return index


class OutsideTheDatabase:
    """A sink whose data lives outside the projection database (in Redis): it has no
    tables to make, point readers at, empty or drop; its `clear` removes its data."""

    def create_ddl(self, version: int) -> list[str]:
        return []

    def activate_ddl(self, version: int) -> list[str]:
        return []

    def reset_ddl(self, version: int) -> list[str]:
        return []

    def drop_ddl(self, version: int) -> list[str]:
        return []


async def keep_only_epoch(client: Redis, meta: str, epoch: int) -> None:
    """Empty the meta hash but for `epoch`, the floor that fences older runners."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.delete(meta)
        pipe.hset(meta, "epoch", epoch)
        await pipe.execute()
