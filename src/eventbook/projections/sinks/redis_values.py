"""Key-value read models in Redis: a hash or a JSON value per key (one per order, say).

Checkpoints. Redis is not the checkpoint's database, so a batch's writes cannot share
the checkpoint's transaction. This sink takes the shape of the Redis stream sink
(`redis_streams.py`): the writes are idempotent and go first, the checkpoint follows.

- A batch's writes go out in one Lua script call, atomic in Redis: all or none.
- Each write carries a marker, (event position, index within the event), fixed-width
  so it compares as a string. The build's meta hash keeps `last`, the highest marker
  applied; the script applies a write only if its marker sorts after `last`, then moves
  `last`. After a crash between the script and the checkpoint, the runner replays from
  the checkpoint and every write already applied is skipped. So even writes that are not
  idempotent by themselves (`hincrby`) apply exactly once, and handlers never need to
  read Redis to stay correct.
- The meta hash also keeps the highest lease epoch seen and refuses older ones: a runner
  fenced by a takeover (or a reset) cannot write after its successor has.
- A parked event retried out of order is deduplicated on its own (event id, index).

Keys are `<namespace>:v<version>:<key>`, so two builds of one projection live side by
side (blue/green); the meta hash is `<namespace>:meta:v<version>`. A rebuild or
`drop_build` removes a build's keys with SCAN and UNLINK, a batch at a time::

    sink = RedisValueSink(redis.asyncio.Redis.from_url(url), checkpoints=db,
                          namespace="order_detail")

    def placed(event, batch: ValueBatch) -> None:
        batch.hset(event, event.data["order_id"], {"status": "placed", "paid_cents": 0})

    def paid(event, batch: ValueBatch) -> None:
        batch.hincrby(event, event.data["order_id"], "paid_cents", 1250)

    fields = await sink.hgetall(2, "order-42")      # readers name the build they read
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

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

UNLINK_BATCH = 500
"""Keys removed per UNLINK while clearing a build (SCAN returns them in pages)."""

_SCRIPT = (
    "local late, epoch = ARGV[1] == '1', tonumber(ARGV[2])"
    + FENCE_LUA
    + """local last = redis.call('HGET', meta, 'last') or ''
local newest, applied, i = last, 0, 3
while i <= #ARGV do
  local op, key, mark, n = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], tonumber(ARGV[i + 3])
  local fresh
  if late then
    fresh = redis.call('HSETNX', meta, 'late:' .. mark, 1) == 1
  else
    fresh = mark > last
  end
  if fresh then
    if op == 'hset' then
      redis.call('HSET', key, unpack(ARGV, i + 4, i + 3 + n))
    elseif op == 'hsetnx' then
      redis.call('HSETNX', key, ARGV[i + 4], ARGV[i + 5])
    elseif op == 'hincrby' then
      redis.call('HINCRBY', key, ARGV[i + 4], ARGV[i + 5])
    elseif op == 'hdel' then
      redis.call('HDEL', key, unpack(ARGV, i + 4, i + 3 + n))
    elseif op == 'set' then
      redis.call('SET', key, ARGV[i + 4])
    else
      redis.call('DEL', key)
    end
    if not late and mark > newest then newest = mark end
    applied = applied + 1
  end
  i = i + 4 + n
end
if newest ~= last then redis.call('HSET', meta, 'last', newest) end
return applied
"""
)

_encode = msgspec.json.Encoder().encode


class ValueBatch(MarkedBatch):
    """Hash and JSON writes, recorded by handlers and sent once per batch, in order."""

    __slots__ = ("writes",)

    def __init__(self, epoch: int, version: int, out_of_order: bool) -> None:
        super().__init__(epoch, version, out_of_order)
        self.writes: list[tuple[str, str, str, list[Value]]] = []
        """(operation, key, marker, arguments), in the order handlers made them."""

    def hset(self, event: RecordedEvent, key: str, fields: Mapping[str, Value]) -> None:
        """Set fields of the hash at `key` (others are kept)."""
        if not fields:
            raise ValidationError("hset needs at least one field")
        flat: list[Value] = []
        for name, value in fields.items():
            flat += (name, value)
        self._add(event, "hset", key, flat)

    def hsetnx(self, event: RecordedEvent, key: str, field: str, value: Value) -> None:
        """Set a field of the hash at `key` unless it is there already."""
        self._add(event, "hsetnx", key, [field, value])

    def hincrby(self, event: RecordedEvent, key: str, field: str, amount: int) -> None:
        """Add `amount` to an integer field (0 when missing); applied once, even on replay."""
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValidationError(f"hincrby adds a whole number, not {amount!r}")
        self._add(event, "hincrby", key, [field, amount])

    def hdel(self, event: RecordedEvent, key: str, *fields: str) -> None:
        """Remove fields of the hash at `key`."""
        if not fields:
            raise ValidationError("hdel needs at least one field")
        self._add(event, "hdel", key, list(fields))

    def set_json(self, event: RecordedEvent, key: str, value: Any) -> None:
        """Replace the value at `key` with `value` as JSON (read it with `sink.get_json`)."""
        self._add(event, "set", key, [_encode(value)])

    def delete(self, event: RecordedEvent, key: str) -> None:
        """Remove the hash or value at `key`."""
        self._add(event, "del", key, [])

    def _add(self, event: RecordedEvent, op: str, key: str, args: list[Value]) -> None:
        if not isinstance(key, str) or not key:
            raise ValidationError(f"a read-model key is a non-empty string, not {key!r}")
        slot = str(event.id)
        index = self._next_index(slot)
        # A retried dead letter is deduplicated by its own id; in order, by position.
        mark = f"{slot}:{index:06d}" if self.out_of_order else marker(event, index)
        self.writes.append((op, key, mark, args))


class RedisValueSink(OutsideTheDatabase):
    """Hashes and JSON values in Redis, one per key; checkpoints live in `checkpoints`."""

    def __init__(self, client: Redis, *, checkpoints: ProjectionDatabase, namespace: str) -> None:
        if not namespace or any(c in namespace for c in "*?[]\\"):
            raise ValidationError(
                f"a Redis value sink needs a namespace without glob characters, not {namespace!r}"
            )
        self.client = client
        self.namespace = namespace
        self._database = checkpoints
        self._script: AsyncScript | None = None

    @property
    def database(self) -> ProjectionDatabase:
        return self._database

    def key(self, version: int, key: str) -> str:
        """The Redis key of one read-model key in one build."""
        return f"{self.namespace}:v{version}:{key}"

    def meta(self, version: int) -> str:
        """The build's meta hash: highest marker applied, highest lease epoch seen."""
        return f"{self.namespace}:meta:v{version}"

    async def hgetall(self, version: int, key: str) -> dict[str, str]:
        """The hash at `key` in build `version`, decoded as UTF-8 ({} when absent)."""
        found: dict[Any, Any] = await self.client.hgetall(self.key(version, key))
        return {_text(name): _text(value) for name, value in found.items()}

    async def get_json(self, version: int, key: str) -> Any:
        """The JSON value at `key` in build `version`, decoded, or None."""
        raw = await self.client.get(self.key(version, key))
        return None if raw is None else msgspec.json.decode(raw)

    def begin(self, session: Session, version: int, *, out_of_order: bool = False) -> ValueBatch:
        return ValueBatch(session.epoch, version, out_of_order)

    async def flush(self, batch: ValueBatch) -> WriteBuffer | None:
        if not batch.writes:
            return None
        keys = [self.meta(batch.version)]
        slots: dict[str, int] = {}
        args: list[Value] = [1 if batch.out_of_order else 0, batch.epoch]
        for op, key, mark, values in batch.writes:
            slot = slots.get(key)
            if slot is None:
                keys.append(self.key(batch.version, key))
                slot = slots[key] = len(keys)
            args += (op, slot, mark, len(values), *values)
        if self._script is None:
            self._script = self.client.register_script(_SCRIPT)
        applied: Any = await self._script(keys=keys, args=args)
        if int(applied) < 0:
            raise LeaseLost(
                "redis values", f"a newer lease wrote to {self.namespace} v{batch.version}"
            )
        return None

    async def clear(self, version: int, epoch: int) -> None:
        """Remove the build's keys; keep `epoch` as a floor that fences older runners.

        The meta hash stays (holding only the epoch) so that a runner of the dropped or
        reset build that does not know it yet cannot write its keys back.
        """
        meta = self.meta(version)
        await self.client.hset(meta, "epoch", epoch)  # fence first, then delete
        pattern = f"{self.namespace}:v{version}:*"
        pending: list[Any] = []
        async for key in self.client.scan_iter(match=pattern, count=1000):
            pending.append(key)
            if len(pending) >= UNLINK_BATCH:
                await self.client.unlink(*pending)
                pending.clear()
        if pending:
            await self.client.unlink(*pending)
        await keep_only_epoch(self.client, meta, epoch)


def _text(value: bytes | str) -> str:
    # A client made with decode_responses=True returns str already.
    return value if isinstance(value, str) else value.decode()
