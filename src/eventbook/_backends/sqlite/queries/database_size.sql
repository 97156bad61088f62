-- The main database file's size in bytes (the write-ahead log is counted apart).
SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()
