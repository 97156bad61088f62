-- Changes whenever another connection (in this process or another) commits.
PRAGMA data_version
