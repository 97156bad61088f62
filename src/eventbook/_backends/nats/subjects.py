"""Subjects of the store's messages, and the reversible encoding of names into them.

A JetStream subject is dot-separated tokens without whitespace, '*' or '>'. An event
stream `order-42` is kept under `<prefix>.e.order.42`: its category and the rest of its
name, each one token, so that a category filter is a subject filter. A name part that is
not a plain token (`[A-Za-z0-9][A-Za-z0-9_-]*`) is written as '_' and its UTF-8 in
unpadded base64url; a name without a '-' has the rest token '~'.
"""

from __future__ import annotations

import base64
import re

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
NO_REST = "~"


def encode_token(text: str) -> str:
    """`text` as one subject token, reversibly."""
    if _PLAIN.fullmatch(text):
        return text
    return "_" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    if not token.startswith("_"):
        return token
    packed = token[1:]
    return base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)).decode()


class Subjects:
    """The subjects of one store, all under its JetStream stream's name."""

    def __init__(self, stream: str) -> None:
        self.prefix = stream
        self.events_all = f"{stream}.e.>"
        self.ids_all = f"{stream}.i.>"
        self.marks_all = f"{stream}.m.>"
        self.appended = f"{stream}.appended"  # core NATS only: outside the stream's subjects
        self.snapshot_stream = f"{stream}_SNAPSHOTS"
        self.snapshots_all = f"{self.snapshot_stream}.>"

    def events(self, stream: str) -> str:
        return f"{self.prefix}.e.{_name_tokens(stream)}"

    def marks(self, stream: str) -> str:
        """The subject of a stream's lifecycle marks (`StreamMarks`, newest last)."""
        return f"{self.prefix}.m.{_name_tokens(stream)}"

    def category(self, category: str) -> str:
        return f"{self.prefix}.e.{encode_token(category)}.>"

    def stream_of(self, subject: str) -> str:
        """The event stream name a subject from `events` or `marks` stands for."""
        _prefix, _e, category, tail = subject.split(".")
        name = decode_token(category)
        return name if tail == NO_REST else f"{name}-{decode_token(tail)}"

    def event_id(self, hex_id: str) -> str:
        return f"{self.prefix}.i.{hex_id}"

    def snapshots(self, stream: str, schema: str) -> str:
        return f"{self.snapshot_stream}.{encode_token(stream)}.{encode_token(schema)}"

    def snapshots_of(self, stream: str) -> str:
        """Every snapshot subject of one stream, whatever its schema tag."""
        return f"{self.snapshot_stream}.{encode_token(stream)}.*"


def _name_tokens(stream: str) -> str:
    category, dash, rest = stream.partition("-")
    tail = encode_token(rest) if dash else NO_REST
    return f"{encode_token(category)}.{tail}"
