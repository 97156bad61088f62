"""Time-ordered event ids (UUID version 7, RFC 9562)."""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID, SafeUUID

_POOL_BYTES = 4096
"""Random bytes fetched per `os.urandom` call: one system call serves about 400 ids."""

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_pool = b""
_taken = 0


def uuid7() -> UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then a counter, then random bits.

    Ids made in one process sort in creation order, even within one millisecond,
    which keeps the store's unique index on ids append-mostly.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _counter = int.from_bytes(_random(2)) & 0x7FF  # leave room to count up
        else:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
        tail = int.from_bytes(_random(8)) & 0x3FFF_FFFF_FFFF_FFFF
    return uuid_from_int((ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | tail)


def uuid_from_int(value: int) -> UUID:
    """`UUID(int=value)` for a 128-bit `value` known to be in range, without `UUID.__init__`'s
    argument checks: every command makes a few ids, and those checks cost more than the id."""
    made = object.__new__(UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN)
    return made


_UNKNOWN = SafeUUID.unknown  # an enum member looked up once, not on every id


def _random(count: int) -> bytes:
    """`count` bytes from the operating system's CSPRNG, fetched in bulk (holding `_lock`).

    A call of `os.urandom` per id costs a system call and a release of the GIL, which
    under load means waiting to take it back.
    """
    global _pool, _taken
    if _taken + count > len(_pool):
        _pool, _taken = os.urandom(_POOL_BYTES), 0
    _taken += count
    return _pool[_taken - count : _taken]


def _forget_pool() -> None:
    # A forked child must not hand out the random bits its parent hands out too.
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_pool)
