"""Benchmarks (one script per figure) and what only they and the tests use."""
