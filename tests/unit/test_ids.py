"""Event ids: UUIDv7, unique, in creation order, and never shared with a forked child."""

from __future__ import annotations

import os
import sys
from uuid import UUID

import pytest

from eventbook._store.ids import uuid7


def _tail(value: UUID) -> int:
    return value.int & 0x3FFF_FFFF_FFFF_FFFF  # the random bits


def test_ids_are_version_7_unique_and_in_creation_order() -> None:
    ids = [uuid7() for _ in range(20_000)]  # several refills of the random pool
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert {(i.version, i.variant) for i in ids} == {(7, "specified in RFC 4122")}
    assert len({_tail(i) for i in ids}) == len(ids)


@pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")
def test_a_forked_child_draws_other_random_bits_than_its_parent() -> None:
    uuid7()  # the parent holds random bytes it has not used yet
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writing, b"".join(uuid7().bytes for _ in range(5)))
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    received = os.read(reading, 1000)
    os.close(reading)
    theirs = {_tail(UUID(bytes=received[n : n + 16])) for n in range(0, 80, 16)}
    ours = {_tail(uuid7()) for _ in range(5)}
    assert len(theirs) == 5
    assert not theirs & ours
