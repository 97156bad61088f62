"""Throwaway servers that the tests and benchmarks start and stop themselves."""
