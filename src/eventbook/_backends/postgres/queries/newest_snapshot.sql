SELECT max(version) FROM {schema}.snapshots WHERE stream = $1
