"""JSON in and out of JSONB columns without a detour through `str`.

The driver is told to move JSONB in its binary form (a version byte, then the JSON
text), so encoded events go to the server as the bytes they already are and come back
straight into msgspec.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

_JSONB_VERSION = b"\x01"
_decode = msgspec.json.Decoder().decode
_encode_with_decimals = msgspec.json.Encoder(decimal_format="number").encode

# A number right after `:`, `,` or `[` (msgspec writes no spaces) with an exponent without
# a sign: how msgspec writes floats of 1e16 and more. Anchoring on the separator keeps
# hex strings such as UUIDs ("...-3e41-...") from sending every document down the slow path.
_POSITIVE_EXPONENT = re.compile(rb"[:,\[]-?\d+(?:\.\d+)?[eE]\d")


def encode_jsonb(value: bytes) -> bytes:
    """Driver encoder: `value` is JSON text already (from eventbook's encoder)."""
    return _JSONB_VERSION + value


def decode_jsonb(value: bytes) -> Any:
    """Driver decoder: skip the version byte and parse."""
    return _decode(memoryview(value)[1:])


def preserve_floats(encoded: bytes) -> bytes:
    """`encoded`, rewritten so its floats read back from JSONB as the same floats.

    JSONB stores numbers as decimals and prints `1.5e300` as a 301-digit integer, which
    would come back as an `int` of another value. Written with a decimal point
    (`1500...0.0`), it keeps its scale and reads back as exactly the float it was. Only
    JSON with such an exponent takes the slow path; small exponents (`1e-7`) come back
    as `0.0000001` already.
    """
    if _POSITIVE_EXPONENT.search(encoded) is None:
        return encoded
    return _encode_with_decimals(_with_decimal_points(_decode(encoded)))


def preserve_all_floats(encoded: list[bytes]) -> list[bytes]:
    """`preserve_floats` for many documents, with one scan when none needs it."""
    if _POSITIVE_EXPONENT.search(b"\n".join(encoded)) is None:
        return encoded
    return [preserve_floats(document) for document in encoded]


def _with_decimal_points(value: Any) -> Any:
    if isinstance(value, float):
        text = repr(value)
        return Decimal(f"{Decimal(text):f}.0") if "e+" in text else value
    if isinstance(value, dict):
        return {key: _with_decimal_points(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_decimal_points(item) for item in value]
    return value
