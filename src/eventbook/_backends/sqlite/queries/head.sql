SELECT max(position) FROM eventbook_events
