"""The HTTP service (FastAPI), its settings, the factory that builds everything, and the CLI."""
