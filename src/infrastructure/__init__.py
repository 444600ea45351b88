"""Infrastructure: the adapters and technical mechanisms the application runs on (the
event store on SQLite or PostgreSQL and its recorders, our own tables beside it, the
sealing of personal data, the sandbox payment gateway, the link secret, the shipped
address ranges, locks between processes, the background timer, random ids). It
implements the ports that ``commands`` defines, and imports neither ``commands``,
``projections`` nor ``api``."""
