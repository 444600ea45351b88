"""Infrastructure: the adapters and technical mechanisms the application runs on (the
event store on SQLite or PostgreSQL and its recorders, our own tables beside it, the
sealing of personal data, random ids). It implements the ports that ``commands``
defines, and imports neither ``commands``, ``projections`` nor ``api``."""
