"""Personal data in events: marked fields encrypted per data subject, and forgotten by
destroying the subject's key (crypto-shredding). See docs/personal-data.md.

    keyring = Keyring(await open_key_store("sqlite:///orders.db"), MasterKey.from_env())
    personal = PersonalDataStage(keyring, [OrderPlaced, ...])
    events = EventRegistry([OrderPlaced, ...], stages=[personal])
    ...
    await personal.forget("customer-7")   # their fields now read as FORGOTTEN

Needs the `cryptography` package (`pip install eventbook[crypto]`).
"""

from eventbook._errors import DataKeyMissing, MasterKeyError, PersonalDataError, SubjectForgotten
from eventbook.personal._cipher import MASTER_KEY_VARIABLE, MasterKey
from eventbook.personal._keys import Keyring, KeyStore, MemoryKeyStore, StoredKey
from eventbook.personal._marking import PersonalData
from eventbook.personal._open import open_key_store
from eventbook.personal._stage import ENVELOPE, FORGOTTEN, PersonalDataStage

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
]
