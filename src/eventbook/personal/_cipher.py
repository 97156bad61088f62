"""AES-GCM for personal data: the master key, and the data keys it wraps.

Each subject has its own random 256-bit data key. The key store only ever holds it
wrapped (encrypted) by the master key, with the subject as associated data so that a
wrapped key cannot be moved to another subject. The master key comes from configuration
and is never stored; its fingerprint is stored beside each wrapped key so that a wrong
master key is reported as such, not as a forgotten subject or as corrupt data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eventbook._errors import MasterKeyError, PersonalDataError

MASTER_KEY_VARIABLE = "EVENTBOOK_MASTER_KEY"
"""The environment variable `MasterKey.from_env` reads (base64 of 32 random bytes)."""
NONCE_BYTES = 12
KEY_BYTES = 32


class MasterKey:
    """The key that wraps every data key. Its repr and str never show it."""

    __slots__ = ("_aead", "fingerprint")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes (base64 in configuration)")
        self._aead = AESGCM(key)
        digest = hmac.new(key, b"eventbook master key fingerprint", hashlib.sha256).digest()
        self.fingerprint = digest[:8].hex()
        """Names the key without revealing it; stored with each key it wraps."""

    @classmethod
    def parse(cls, text: str) -> MasterKey:
        """A master key from its base64 text (as `generate()` prints it)."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError("the master key is not valid base64") from None
        return cls(raw)

    @classmethod
    def from_env(cls, variable: str = MASTER_KEY_VARIABLE) -> MasterKey:
        text = os.environ.get(variable)
        if not text:
            raise MasterKeyError(
                f"no master key: set {variable} to the base64 of 32 random bytes"
                " (python -m eventbook.personal generate-key prints one)"
            )
        return cls.parse(text)

    @staticmethod
    def generate() -> str:
        """A new random master key, as base64 text."""
        return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()

    def __repr__(self) -> str:
        return f"MasterKey(fingerprint={self.fingerprint!r})"

    def wrap(self, subject: str, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, subject.encode())

    def unwrap(self, subject: str, wrapped: bytes, fingerprint: str) -> bytes:
        if fingerprint != self.fingerprint:
            raise MasterKeyError(
                f"the data key of {subject!r} was wrapped by master key {fingerprint}, but"
                f" the configured master key is {self.fingerprint}"
            )
        try:
            return self._aead.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject.encode()
            )
        except InvalidTag:
            raise PersonalDataError(f"the stored data key of {subject!r} is corrupt") from None


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: AESGCM, plain: bytes, bound_to: bytes) -> str:
    """`plain` encrypted under `key`, bound to `bound_to` (the event id), as base64 text."""
    nonce = os.urandom(NONCE_BYTES)
    return binascii.b2a_base64(nonce + key.encrypt(nonce, plain, bound_to), newline=False).decode()


def open_sealed(key: AESGCM, sealed: str, bound_to: bytes, subject: str) -> bytes:
    try:
        raw = binascii.a2b_base64(sealed)
        return key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to)
    except (InvalidTag, binascii.Error, ValueError):
        raise PersonalDataError(
            f"personal data of {subject!r} does not decrypt with its key: it was altered"
        ) from None
