"""Where read models live: SQL tables, full-text search indexes, Redis streams.

Import the sink you use from its module (`eventbook.projections.sinks.redis_streams`
imports `redis`); this package itself imports nothing.
"""
