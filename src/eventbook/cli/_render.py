"""How one event looks: pretty for people, a JSON object for scripts.

Sealed personal values are shown as `[sealed: <subject>]`: the operator tools hold no
keys, and a forgotten subject reads the same as any other (see docs/personal-data.md).
"""

from __future__ import annotations

from typing import Any

import msgspec
from rich.syntax import Syntax
from rich.text import Text

from eventbook._store.types import RecordedEvent
from eventbook.cli._common import console, short_time
from eventbook.personal import sealed_view


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """The event as JSON-ready values; the position as its string form."""
    built = msgspec.to_builtins(event)
    assert isinstance(built, dict)
    return {**built, "data": sealed_view(event.data), "position": str(event.position)}


def print_event(event: RecordedEvent, *, with_stream: bool = False) -> None:
    heading = Text()
    if with_stream:
        heading.append(f"{event.stream} ", style="bold")
    heading.append(f"v{event.version} ", style="cyan")
    heading.append(event.type, style="bold green")
    heading.append(f"  {short_time(event.recorded_at)}  @{event.position}", style="dim")
    console.print(heading)
    console.print(Text(f"  id {event.id}", style="dim"))
    body = msgspec.json.format(msgspec.json.encode(sealed_view(event.data)), indent=2).decode()
    console.print(Syntax(body, "json", background_color="default", word_wrap=True), end="")
    if event.metadata:
        meta = msgspec.json.encode(event.metadata).decode()
        console.print(Text(f"  metadata {meta}", style="dim", overflow="fold"))
    console.print()
