-- An append with restart=True starts a new history of a deleted stream.
UPDATE eventbook_streams SET deleted = 0 WHERE stream = ?
