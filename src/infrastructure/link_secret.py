"""The secret that signs manage-subscriptions links: from settings, else made once
and kept in the database so that every process shares it."""

from __future__ import annotations

import secrets

from infrastructure.database import Database

TABLE = """CREATE TABLE IF NOT EXISTS service_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)"""


def link_secret(database: Database, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    database.create([TABLE])
    with database.transaction() as tx:
        tx.execute(
            "INSERT INTO service_secrets (name, value) VALUES ('link', ?)"
            " ON CONFLICT (name) DO NOTHING",
            (secrets.token_hex(32),),
        )
        row = tx.one("SELECT value FROM service_secrets WHERE name = 'link'")
    assert row is not None
    return str(row["value"]).encode()
