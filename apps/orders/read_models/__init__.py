"""The Orders read models: one projection per query need, all built from the events."""
