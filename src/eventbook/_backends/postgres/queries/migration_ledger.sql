SELECT version, name, checksum FROM {schema}.schema_migrations ORDER BY version
