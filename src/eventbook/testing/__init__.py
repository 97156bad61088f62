"""Test support shipped with eventbook.

- `eventbook.testing.EventStoreConformance`: the suite every event-store backend passes
  (needs pytest and pytest-asyncio: `pip install eventbook[testing]`);
- `eventbook.testing.scenarios`: given / when / then for aggregates (no test runner needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventbook.testing.conformance import EventStoreConformance

__all__ = ["EventStoreConformance"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `eventbook.testing.scenarios` works without pytest.
    if name == "EventStoreConformance":
        from eventbook.testing.conformance import EventStoreConformance

        return EventStoreConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
