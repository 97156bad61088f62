"""Test support shipped with eventbook: the backend conformance suite and test helpers.

Importing this package needs pytest and pytest-asyncio (`pip install eventbook[testing]`).
"""

from eventbook.testing.conformance import EventStoreConformance

__all__ = ["EventStoreConformance"]
