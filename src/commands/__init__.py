"""The application: the event store, one handler per use case, ports and adapters
(payment gateway, clock, outgoing messages) and the time-driven work."""
