"""The write side: typed events and their registry, upcasters, aggregates and deciders,
repositories with snapshots and a state cache, the command bus. Private: `eventbook`
exports the public names."""
