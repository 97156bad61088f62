-- Every stream (of category ?1 only, unless NULL): its version (its newest event's: a
-- truncated stream holds fewer events), the size of its stored documents, and its newest event's
-- position and time. With a single max(), SQLite takes the bare column json_extract(...)
-- from the row holding that max. A full scan: for operators' tools, not requests.
SELECT stream, max(version), sum(length(document)), max(position),
       json_extract(document, '$.recorded_at')
FROM eventbook_events
WHERE ?1 IS NULL OR substr(stream, 1, instr(stream || '-', '-') - 1) = ?1
GROUP BY stream
ORDER BY stream
