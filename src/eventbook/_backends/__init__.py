"""Event-store backends. Each is imported only when its URL scheme is used."""
