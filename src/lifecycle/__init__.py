"""The subscription lifecycle domain: aggregates, their events, value objects and rules.

Pure: imports only the standard library, ``eventsourcing.domain`` and pydantic.
Time is passed in; nothing here reads a clock.
"""
