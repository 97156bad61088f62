"""The Orders domain: events, commands and the Order aggregate. No I/O here."""
