-- The document arrives as bytes (UTF-8 JSON); store it as TEXT so SQL tools can read it.
INSERT INTO eventbook_events (position, id, stream, version, type, document)
VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT))
