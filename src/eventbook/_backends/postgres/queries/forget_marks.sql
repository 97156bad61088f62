DELETE FROM {schema}.streams WHERE stream = $1
