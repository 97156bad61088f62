SELECT outcome, last_version, last_tx, last_seq
FROM {schema}.append($1, $2, $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])
