"""API keys, kept as events: issuing or revoking a key is a fact like any other.

Only a SHA-256 hash of each key is stored (keys are 256-bit random tokens, so a fast hash
is the right tool; a password hash would only slow every request). The keys live in
memory, rebuilt from the `apikey` streams at start and kept current by a subscription,
so every backend can hold them and every process sees keys issued or revoked by another
as soon as the store wakes its subscribers.

Each key has a stream of its own, `apikey-<first 32 hex digits of its hash>`: version 1
is `ApiKeyIssued`, version 2 (if any) `ApiKeyRevoked`. A revoked key stays revoked, even
when the same key is registered again from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from eventbook import (
    NO_STREAM,
    ConcurrencyError,
    EventStore,
    NewEvent,
    Position,
    RecordedEvent,
    ValidationError,
)


class Role(enum.Enum):
    """What a key may do; each role may also do everything of the roles before it."""

    READER = "reader"  # queries, history, the live feed
    WRITER = "writer"  # commands
    OPERATOR = "operator"  # projections, parked events, rebuilds, keys, metrics

    def allows(self, needed: Role) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.READER: 0, Role.WRITER: 1, Role.OPERATOR: 2}
CATEGORY = "apikey"
ID_LENGTH = 12
"""A key's id is the start of its hash: enough to name it, useless to guess the key."""


class ApiKeyNotFound(ValidationError):
    """No issued key has that id (or the id names several)."""


class ApiKeyAlreadyRevoked(ValidationError):
    """The key was revoked before."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _stream(digest: str) -> str:
    return f"{CATEGORY}-{digest[:32]}"


@dataclass(frozen=True)
class ApiKey:
    """An issued key as operators see it: never the key itself."""

    id: str
    role: Role
    name: str
    issued_at: datetime
    revoked_at: datetime | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "role": self.role.value,
            "name": self.name,
            "issued_at": self.issued_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }


class ApiKeys:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._keys: dict[str, ApiKey] = {}  # by hash
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the issued keys, then follow new ones."""
        last = await self.load()
        self._follower = asyncio.create_task(self._follow(last))

    async def load(self) -> Position | None:
        """Read every key once (what a command-line tool needs); the last position read."""
        last = None
        async for event in self._store.read_all(categories=[CATEGORY]):
            self._apply(event)
            last = event.position
        return last

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    async def issue(self, role: Role, name: str) -> tuple[str, ApiKey]:
        """Create a key with `role`; the key itself is returned once and never stored."""
        key = f"ob_{role.value[0]}_{secrets.token_urlsafe(32)}"
        return key, await self.register(key, role, name)

    async def register(self, key: str, role: Role, name: str) -> ApiKey:
        """Accept a key chosen elsewhere (e.g. from the environment); idempotent. A key
        registered before keeps its first role, and stays revoked if it was revoked."""
        digest = key_hash(key)
        if (known := self._keys.get(digest)) is not None:
            return known
        event = NewEvent("ApiKeyIssued", {"hash": digest, "role": role.value, "name": name})
        # Another process may have registered it (or this one not followed it yet).
        with contextlib.suppress(ConcurrencyError):
            await self._store.append(_stream(digest), [event], expected=NO_STREAM)
        async for recorded in self._store.read_stream(_stream(digest)):
            self._apply(recorded)
        return self._keys[digest]

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key whose id (or hash) starts with `key_id`; refused at once here, and
        in every other process as soon as its subscription sees the event."""
        digest = self._find(key_id)
        if self._keys[digest].revoked_at is not None:
            raise ApiKeyAlreadyRevoked(f"the key {key_id} was already revoked")
        try:
            await self._store.append(
                _stream(digest), [NewEvent("ApiKeyRevoked", {"hash": digest})], expected=1
            )
        except ConcurrencyError:
            raise ApiKeyAlreadyRevoked(f"the key {key_id} was already revoked") from None
        async for recorded in self._store.read_stream(_stream(digest), from_version=2):
            self._apply(recorded)
        return self._keys[digest]

    def issued(self) -> list[ApiKey]:
        """Every key ever issued, oldest first."""
        return sorted(self._keys.values(), key=lambda k: k.issued_at)

    def hashes(self) -> list[str]:
        return list(self._keys)

    def role_of(self, key: str) -> Role | None:
        # Looking up a SHA-256 digest leaks nothing useful through timing: an attacker
        # cannot choose digest prefixes, so no constant-time comparison is needed.
        return self.role_of_hash(key_hash(key))

    def role_of_hash(self, digest: str) -> Role | None:
        """The role of a live key by its hash; None when unknown or revoked."""
        found = self._keys.get(digest)
        return None if found is None or found.revoked_at is not None else found.role

    def _find(self, key_id: str) -> str:
        wanted = key_id.strip().lower()
        if not 8 <= len(wanted) <= 64 or any(c not in "0123456789abcdef" for c in wanted):
            raise ApiKeyNotFound(
                f"a key id is 8 to 64 hex digits (see `keys list`), not {key_id!r}"
            )
        found = [digest for digest in self._keys if digest.startswith(wanted)]
        if len(found) != 1:
            raise ApiKeyNotFound(
                f"no key has the id {key_id!r}"
                if not found
                else f"several keys start with {key_id!r}"
            )
        return found[0]

    async def _follow(self, after: Position | None) -> None:
        async for event in self._store.subscribe(after=after, categories=[CATEGORY]):
            self._apply(event)

    def _apply(self, event: RecordedEvent) -> None:
        digest = event.data["hash"]
        if event.type == "ApiKeyIssued" and digest not in self._keys:
            self._keys[digest] = ApiKey(
                id=digest[:ID_LENGTH],
                role=Role(event.data["role"]),
                name=event.data.get("name", ""),
                issued_at=event.recorded_at,
            )
        elif event.type == "ApiKeyRevoked" and digest in self._keys:
            self._keys[digest] = replace(self._keys[digest], revoked_at=event.recorded_at)
