"""Integration tests: several processes, real servers, failures."""
