"""Benchmarks (run each file as a script; see docs/performance.md)."""
