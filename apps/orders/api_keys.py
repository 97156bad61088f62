"""API keys, kept as events: issuing or revoking a key is a fact like any other.

Only a SHA-256 hash of each key is stored (keys are 256-bit random tokens, so a fast hash
is the right tool; a password hash would only slow every request). The roles live in
memory, rebuilt from the `apikey` streams at start and kept current by a subscription,
so every backend can hold them and every process sees keys issued by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import secrets

from eventbook import NO_STREAM, ConcurrencyError, EventStore, NewEvent, Position, RecordedEvent


class Role(enum.Enum):
    READER = "reader"
    WRITER = "writer"


CATEGORY = "apikey"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._roles: dict[str, Role] = {}
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the issued keys, then follow new ones."""
        last = None
        async for event in self._store.read_all(categories=[CATEGORY]):
            self._apply(event)
            last = event.position
        self._follower = asyncio.create_task(self._follow(last))

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    async def issue(self, role: Role, name: str) -> str:
        """Create a key with `role`; the key itself is returned once and never stored."""
        key = f"ob_{role.value[0]}_{secrets.token_urlsafe(32)}"
        await self.register(key, role, name)
        return key

    async def register(self, key: str, role: Role, name: str) -> None:
        """Accept a key chosen elsewhere (e.g. from the environment); idempotent."""
        digest = key_hash(key)
        if self._roles.get(digest) == role:
            return
        event = NewEvent("ApiKeyIssued", {"hash": digest, "role": role.value, "name": name})
        stream = f"{CATEGORY}-{digest[:32]}"
        try:
            await self._store.append(stream, [event], expected=NO_STREAM)
        except ConcurrencyError:
            # Another process registered this key meanwhile (API processes starting
            # together with the same environment): the key stands with its first role.
            first = [e async for e in self._store.read_stream(stream, limit=1)]
            self._apply(first[0])
            return
        self._roles[digest] = role

    def role_of(self, key: str) -> Role | None:
        # Looking up a SHA-256 digest leaks nothing useful through timing: an attacker
        # cannot choose digest prefixes, so no constant-time comparison is needed.
        return self._roles.get(key_hash(key))

    async def _follow(self, after: Position | None) -> None:
        async for event in self._store.subscribe(after=after, categories=[CATEGORY]):
            self._apply(event)

    def _apply(self, event: RecordedEvent) -> None:
        if event.type == "ApiKeyIssued":
            self._roles[event.data["hash"]] = Role(event.data["role"])
        elif event.type == "ApiKeyRevoked":
            self._roles.pop(event.data["hash"], None)
