"""How daemons in several processes share the partitions of a partitioned build.

Safety and balance are kept apart on purpose:

- **Safety** comes from the partition's lease alone, exactly as for an unpartitioned
  build: one lease per partition row, every commit a compare-and-set on (owner, epoch,
  position). Whatever this module decides, two runners can never both commit a batch of
  one partition; a wrong count of daemons can only make the split uneven for a while.
- **Balance** comes from a membership table: every daemon running the build heartbeats
  a row (`seen_until = now + lease_ttl`) every `lease_ttl / 3`, and counts the rows not
  yet expired. A daemon then holds at most `ceil(partitions / members)` partitions: it
  takes free partitions up to that quota and, when a new daemon joins and the quota
  shrinks, hands back its extra partitions at their next batch boundary (releasing the
  lease, so the newcomer takes them at once). A killed daemon stops heartbeating; its
  row expires after `lease_ttl`, when its leases have expired too (SQLite) or were
  dropped with its connections (PostgreSQL), and the survivors' quota grows to cover
  its partitions.

Why this scheme rather than a coordinator or consistent hashing: it needs nothing but
the projection database both sides already share, no leader election, and each daemon
decides alone from one number (the live member count); the quota is a ceiling, so no
daemon ever waits for another to agree. A daemon whose heartbeat fails keeps its last
count (an outage of the database stops commits anyway).
"""

from __future__ import annotations

import asyncio
import logging
import math

from eventbook.projections._ports import ProjectionDatabase

log = logging.getLogger("eventbook.projections")


class PartitionShare:
    """One daemon's share of one partitioned build: which partitions it holds, and how
    many it may hold given the daemons alive."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.members = 1
        """Live daemons running the build (this one included), from the last heartbeat."""
        self.held: set[int] = set()

    @property
    def quota(self) -> int:
        """The most partitions this daemon should hold: ceil(partitions / members)."""
        return math.ceil(self.partitions / max(1, self.members))

    def take(self, partition: int) -> bool:
        """Reserve `partition` before trying its lease; False when the quota is full."""
        if partition in self.held:
            return True
        if len(self.held) >= self.quota:
            return False
        self.held.add(partition)
        return True

    def drop(self, partition: int) -> None:
        """The lease of `partition` was not taken, or was released."""
        self.held.discard(partition)

    def should_yield(self, partition: int) -> bool:
        """True (and no longer counted) when this daemon holds more than its quota: the
        caller releases the partition's lease for a daemon with room."""
        if partition in self.held and len(self.held) > self.quota:
            self.held.discard(partition)
            return True
        return False


class Membership:
    """Heartbeats this daemon's membership of one build and keeps its share's count."""

    def __init__(
        self,
        database: ProjectionDatabase,
        name: str,
        version: int,
        owner: str,
        share: PartitionShare,
        ttl: float,
    ) -> None:
        self.database = database
        self.name = name
        self.version = version
        self.owner = owner
        self.share = share
        self.ttl = ttl

    async def beat(self) -> None:
        members = await self.database.heartbeat(self.name, self.version, self.owner, self.ttl)
        if members != self.share.members:
            log.info(
                "%s@v%d: %d daemon(s) share %d partitions; this one takes at most %d",
                self.name,
                self.version,
                members,
                self.share.partitions,
                math.ceil(self.share.partitions / max(1, members)),
            )
        self.share.members = members

    async def keep(self, stopping: asyncio.Event) -> None:
        """Heartbeat every `ttl / 3` until `stopping`, then leave (a graceful stop)."""
        try:
            while not stopping.is_set():
                try:
                    await self.beat()
                except Exception as error:  # keep the last count; leases stay safe
                    log.warning("%s@v%d: heartbeat failed: %s", self.name, self.version, error)
                try:
                    async with asyncio.timeout(self.ttl / 3):
                        await stopping.wait()
                except TimeoutError:
                    pass
        finally:
            try:
                await self.database.leave(self.name, self.version, self.owner)
            except Exception as error:
                log.debug("could not leave %s@v%d: %s", self.name, self.version, error)
