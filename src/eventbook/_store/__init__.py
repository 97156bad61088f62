"""The event-store port: its value types, the `EventStore` base class, input checks and
encoding, the append signal, event ids. Private: `eventbook` exports the public names."""
