"""Personal data in events: marked fields encrypted per data subject, and forgotten by
destroying the subject's key (crypto-shredding). See docs/personal-data.md.

    keyring = Keyring(await open_key_store("sqlite:///orders.db"), MasterKey.from_env())
    personal = PersonalDataStage(keyring, [OrderPlaced, ...])
    events = EventRegistry([OrderPlaced, ...], stages=[personal])
    ...
    await personal.forget("customer-7")   # their fields now read as FORGOTTEN

Marking fields (`PersonalData`) needs nothing more; encrypting them needs the
`cryptography` package (`pip install eventbook[crypto]`), which the names that use it
import on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from eventbook._errors import DataKeyMissing, MasterKeyError, PersonalDataError, SubjectForgotten
from eventbook.personal._envelope import ENVELOPE, FORGOTTEN, sealed_view
from eventbook.personal._marking import PersonalData

if TYPE_CHECKING:
    from eventbook.personal._cipher import MASTER_KEY_VARIABLE, MasterKey
    from eventbook.personal._keys import Keyring, KeyStore, MemoryKeyStore, StoredKey
    from eventbook.personal._open import open_key_store
    from eventbook.personal._stage import PersonalDataStage

__all__ = [
    "ENVELOPE",
    "FORGOTTEN",
    "MASTER_KEY_VARIABLE",
    "DataKeyMissing",
    "KeyStore",
    "Keyring",
    "MasterKey",
    "MasterKeyError",
    "MemoryKeyStore",
    "PersonalData",
    "PersonalDataError",
    "PersonalDataStage",
    "StoredKey",
    "SubjectForgotten",
    "open_key_store",
    "sealed_view",
]

_LAZY = {
    "MASTER_KEY_VARIABLE": "eventbook.personal._cipher",
    "MasterKey": "eventbook.personal._cipher",
    "Keyring": "eventbook.personal._keys",
    "KeyStore": "eventbook.personal._keys",
    "MemoryKeyStore": "eventbook.personal._keys",
    "StoredKey": "eventbook.personal._keys",
    "open_key_store": "eventbook.personal._open",
    "PersonalDataStage": "eventbook.personal._stage",
}


def __getattr__(name: str) -> Any:
    # The names whose modules import `cryptography` are imported on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
