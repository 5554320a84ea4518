"""Rerunnable benchmarks: `scripts/run python -m benchmarks.<name>` (see README.md)."""
