-- The store's tables with their indexes and TOAST, in bytes.
SELECT pg_total_relation_size('{schema}.events'::regclass)
     + pg_total_relation_size('{schema}.snapshots'::regclass)
