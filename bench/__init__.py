"""Benchmarks of the sync engine (``make bench`` / ``python -m bench``)."""
