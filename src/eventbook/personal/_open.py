"""Open the key store that sits beside an event store, from the same URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from eventbook._connect import _sqlite_path
from eventbook._errors import NotSupported, ValidationError
from eventbook.personal._keys import KeyStore, MemoryKeyStore


async def open_key_store(url: str) -> KeyStore:
    """The key store for the event store at `url`: its own table on SQLite and PostgreSQL,
    a dict for `memory://`. The table is the store's migration 3, made here too if the
    database holds no event store (the read models beside a NATS store, say).

    Other places for keys (a KMS, a vault) implement `KeyStore` and are passed to
    `Keyring` directly.
    """
    if not isinstance(url, str):
        raise ValidationError(f"the store URL must be a string, not {type(url).__name__}")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryKeyStore()
    if scheme == "sqlite":
        from eventbook.personal._sqlite import SQLiteKeyStore

        path, _ = _sqlite_path(url)
        if path == ":memory:":
            return MemoryKeyStore()  # a second connection would see another database
        return await SQLiteKeyStore.open(path)
    if scheme in ("postgresql", "postgres"):
        from eventbook.personal._postgres import PostgresKeyStore

        return await PostgresKeyStore.open(url)
    raise NotSupported(
        f"no key store beside {scheme!r} stores; pass a KeyStore of your own (a KMS, say)"
        " to Keyring"
    )
