"""Benchmarks of the event store, its projections and the HTTP service, each measured
against a baseline in the same run on the same PostgreSQL (``python -m bench``)."""
