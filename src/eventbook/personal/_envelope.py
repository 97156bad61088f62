"""How sealed personal values sit in an event's data; readable without any key.

The envelope is a flat list of strings, three per subject (most events have one):

{"order_id": "42", "customer_id": "c-7", "shipping_address": {"country": "DE"},
 "$personal": ["c-7", "customer,shipping_address/street",
               "<base64: nonce + AES-GCM of the msgpack list of values>"]}

Events sealed before it (still in the stores) hold a list of objects, whose values are
a JSON list; both are read:

 "$personal": [{"subject": "c-7", "paths": ["customer", "shipping_address/street"],
                "sealed": "<base64: nonce + AES-GCM of the JSON list of values>"}]
"""

from __future__ import annotations

from typing import Any

ENVELOPE = "$personal"
"""The data key under which an event keeps its sealed personal values."""
FORGOTTEN = "[forgotten]"
"""What a personal value of a forgotten subject reads as."""
PATHS_SEPARATOR = ","
"""Between the paths of one subject's values (in the flat envelope)."""
KEYS_SEPARATOR = "/"
"""Between the keys of a nested value's path."""

Path = tuple[str, ...]
"""Keys from the event's data down to one personal value."""

Entry = tuple[str, str | list[str], str, bool]
"""(subject, its paths as stored, the sealed text, whether it is the first format's)."""


def split_path(text: str) -> Path:
    return tuple(text.split(KEYS_SEPARATOR))


def join_paths(paths: tuple[Path, ...]) -> str:
    return PATHS_SEPARATOR.join(KEYS_SEPARATOR.join(path) for path in paths)


def split_paths(stored: str | list[str]) -> list[Path]:
    """The paths of an envelope entry, in either format."""
    texts = stored.split(PATHS_SEPARATOR) if isinstance(stored, str) else stored
    return [split_path(text) for text in texts]


def entries(envelope: list[Any]) -> list[Entry]:
    """The subjects' entries of an envelope, in either format."""
    if envelope and isinstance(envelope[0], dict):
        return [(e["subject"], e["paths"], e["sealed"], True) for e in envelope]
    if len(envelope) % 3:
        raise ValueError("a flat envelope holds three strings per subject")
    return [
        (envelope[i], envelope[i + 1], envelope[i + 2], False) for i in range(0, len(envelope), 3)
    ]


def subjects(envelope: list[Any]) -> list[str]:
    if envelope and isinstance(envelope[0], dict):
        return [entry["subject"] for entry in envelope]
    return envelope[::3]


def put_values(data: dict[str, Any], paths: list[Path], values: list[Any]) -> None:
    """Set each path of `data` to its value, copying nested dicts (they may be shared)."""
    for path, value in zip(paths, values, strict=True):
        if len(path) == 1:
            data[path[0]] = value
            continue
        holder = data
        for key in path[:-1]:
            inner = holder.get(key)
            if not isinstance(inner, dict):
                break  # the holder was None (an absent optional record): nothing went in
            holder[key] = holder = dict(inner)
        else:
            holder[path[-1]] = value


def sealed_view(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every sealed value shown as `[sealed: <subject>]`: what operator tools
    print without holding keys (nothing is decrypted, so nothing can fail)."""
    sealed = data.get(ENVELOPE)
    if not isinstance(sealed, list):
        return data
    view = {k: v for k, v in data.items() if k != ENVELOPE}
    try:
        found = entries(sealed)
    except (KeyError, TypeError, ValueError):
        return view  # an envelope of neither shape: its values stay hidden
    for subject, stored, _, _ in found:
        paths = split_paths(stored)
        put_values(view, paths, [f"[sealed: {subject}]"] * len(paths))
    return view
