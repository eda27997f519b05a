"""Benchmarks: measurements of the emulator against references, runnable as scripts."""
