"""Test support shipped with eventbook.

- `eventbook.testing.EventStoreConformance`: the suite every event-store backend passes
  (needs pytest and pytest-asyncio: `pip install eventbook[testing]`);
- `eventbook.testing.property.check_store_contract`: a property-based test of the same
  contract (a hypothesis state machine against an in-memory model; needs hypothesis);
- `eventbook.testing.ProjectionDatabaseConformance`: the suite every projection database
  passes (checkpoints, leases, parking, builds; needs pytest too);
- `eventbook.testing.ProjectionSpec`: given events, then rows, for one projection against
  a real projection database (no test runner needed);
- `eventbook.testing.scenarios`: given / when / then for aggregates (no test runner needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventbook.testing.conformance import EventStoreConformance
    from eventbook.testing.projection_databases import ProjectionDatabaseConformance
    from eventbook.testing.projection_spec import ProjectionSpec

__all__ = ["EventStoreConformance", "ProjectionDatabaseConformance", "ProjectionSpec"]

_MODULES = {
    "EventStoreConformance": "eventbook.testing.conformance",
    "ProjectionDatabaseConformance": "eventbook.testing.projection_databases",
    "ProjectionSpec": "eventbook.testing.projection_spec",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `eventbook.testing.scenarios` works without pytest.
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
