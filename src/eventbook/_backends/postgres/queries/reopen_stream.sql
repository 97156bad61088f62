-- An append with restart=True starts a new history of a deleted stream; true if it did.
UPDATE {schema}.streams SET deleted = false WHERE stream = $1 AND deleted RETURNING true
