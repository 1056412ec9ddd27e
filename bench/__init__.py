"""Benchmarks: run by a command, printing numbers."""
