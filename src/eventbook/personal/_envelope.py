"""How sealed personal values sit in an event's data; readable without any key.

{"order_id": "42", "customer_id": "c-7", "shipping_address": {"country": "DE"},
 "$personal": [{"subject": "c-7", "paths": ["customer", "shipping_address/street"],
                "sealed": "<base64: nonce + AES-GCM of the JSON list of values>"}]}
"""

from __future__ import annotations

from typing import Any

ENVELOPE = "$personal"
"""The data key under which an event keeps its sealed personal values."""
FORGOTTEN = "[forgotten]"
"""What a personal value of a forgotten subject reads as."""

Path = tuple[str, ...]
"""Keys from the event's data down to one personal value."""


def split_path(text: str) -> Path:
    return tuple(text.split("/"))


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
    for entry in sealed:
        paths = [split_path(p) for p in entry.get("paths", ())]
        put_values(view, paths, [f"[sealed: {entry.get('subject')}]"] * len(paths))
    return view
