SELECT max(version) FROM eventbook_snapshots WHERE stream = ?
