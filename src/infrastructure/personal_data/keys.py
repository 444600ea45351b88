"""Data keys: one AES-256 key per owner of personal data, in ``personal_data_keys``.

An *owner* is an organisation, or a new buyer's purchase before the organisation it
creates exists (its row then names that organisation once the purchase completes).
Erasing an organisation deletes the keys of every row that names it, and leaves each
row behind with ``data_key`` NULL and ``erased_at`` set: a tombstone, so that no new
key is ever made for it and its values read as erased rather than as missing.

With a master key (``LIFECYCLE_EVENT_CIPHER_KEY``) a data key is stored wrapped
(AES-GCM under the master key); without one it is stored as is, next to the data,
which still lets erasure shred but protects nothing from a reader of the database.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher

from infrastructure.database import Database
from infrastructure.ids import random_bytes

DATA_KEY_BYTES = 32
CACHE_SECONDS = 5.0
"""How long a process trusts the data keys it holds before asking whether any key was
erased since: another process's erasure is seen at most this long after it (this
process's own at once)."""

CACHED_KEYS = 10_000
"""How many owners' keys a process holds at most (the least recently used go first)."""

PREFETCH_CHUNK = 500

TABLES = (
    """CREATE TABLE IF NOT EXISTS personal_data_keys (
        owner_id TEXT PRIMARY KEY,
        organisation_id TEXT,
        data_key TEXT,
        wrapped INTEGER NOT NULL DEFAULT 0,
        erased_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS personal_data_keys_by_organisation"
    " ON personal_data_keys (organisation_id)",
)


class DataKeyMissing(Exception):
    """A sealed value names an owner that has no row in ``personal_data_keys``: the
    table is not the one the events were written with (a partial restore?)."""


class MasterKeyMismatch(Exception):
    """The data keys were wrapped with another master key than the one configured."""


@dataclass(frozen=True)
class Owner:
    """Whose data key seals a value: ``id`` names the key; ``organisation_id`` is the
    organisation whose erasure deletes it (``None`` while a new buyer's purchase has
    none yet)."""

    id: UUID
    organisation_id: UUID | None


class DataKeyCipher(AESCipher):
    """eventsourcing's AES-GCM cipher and its format (nonce, tag, ciphertext), with the
    key schedule made once per key rather than once per value."""

    def __init__(self, key: bytes) -> None:
        AESCipher.check_key_size(len(key))
        self.key = key
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = random_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext, None)
        return nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) < 28:
            raise ValueError("Damaged cipher text: too short for its nonce and tag")
        try:
            return self._aead.decrypt(ciphertext[:12], ciphertext[28:] + ciphertext[12:28], None)
        except InvalidTag as error:
            raise ValueError("Invalid cipher tag") from error


def master_cipher(master_key: str | None) -> AESCipher | None:
    """The cipher that wraps data keys, from the base64 master key (or ``None``)."""
    if not master_key:
        return None
    return DataKeyCipher(base64.b64decode(master_key))


class DataKeys:
    """The data keys of this process, through a cache that is emptied whenever an
    erasure is seen: at once for this process's own, within ``recheck_seconds`` for
    another process's (one query, counting the erased rows, whatever the number of
    keys held)."""

    def __init__(self, master: AESCipher | None = None) -> None:
        self.master = master
        self.recheck_seconds = CACHE_SECONDS
        self._database: Database | None = None
        self._lock = threading.Lock()
        self._ciphers: OrderedDict[UUID, AESCipher | None] = OrderedDict()
        self._erased_rows: int | None = None  # as last counted
        self._epoch = 0  # counts the emptyings: a key read before one is not kept
        self._recheck_at = 0.0

    def bind(self, database: Database) -> None:
        """Use the store's database (known only once its recorder exists)."""
        self._database = database
        database.create(TABLES)

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("the data keys are not bound to a database yet")
        return self._database

    # --- reading and making keys -----------------------------------------------------

    def cipher_for(self, owner: Owner) -> AESCipher | None:
        """The cipher that seals the owner's new values, its key made on first use;
        ``None`` once the owner's personal data has been erased."""
        cached = self._cached(owner.id)
        if cached is not None:
            return cached[0]
        epoch = self._epoch
        row = self._row(owner.id)
        if row is None:
            self._create(owner)
            row = self._row(owner.id)
            assert row is not None
        return self._remember(owner.id, row, epoch)

    def cipher_of(self, owner_id: UUID) -> AESCipher | None:
        """The cipher that opens the owner's sealed values; ``None`` once erased."""
        cached = self._cached(owner_id)
        if cached is not None:
            return cached[0]
        epoch = self._epoch
        row = self._row(owner_id)
        if row is None:
            raise DataKeyMissing(
                f"no data key for owner {owner_id} in personal_data_keys: the table does not "
                "belong with these events"
            )
        return self._remember(owner_id, row, epoch)

    def prefetch(self, owner_ids: Iterable[UUID]) -> None:
        """Read the keys of these owners that are not held yet, a few queries for
        all of them rather than one each (a batch of events about to be decoded)."""
        self._recheck_if_due()
        epoch = self._epoch
        with self._lock:
            missing = list({o for o in owner_ids if o not in self._ciphers})
        for start in range(0, len(missing), PREFETCH_CHUNK):
            chunk = [str(o) for o in missing[start:start + PREFETCH_CHUNK]]
            with self.database.transaction(commit=False) as tx:
                rows = tx.all(
                    "SELECT owner_id, data_key, wrapped, erased_at FROM personal_data_keys"
                    f" WHERE owner_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            for row in rows:
                try:
                    self._remember(UUID(row["owner_id"]), row, epoch)
                except MasterKeyMismatch:
                    continue  # not kept: decoding meets it again, at its own event

    def _cached(self, owner_id: UUID) -> tuple[AESCipher | None] | None:
        self._recheck_if_due()
        with self._lock:
            try:
                cipher = self._ciphers[owner_id]
            except KeyError:
                return None
            self._ciphers.move_to_end(owner_id)
        return (cipher,)

    def _recheck_if_due(self) -> None:
        if time.monotonic() >= self._recheck_at:
            self._recheck()

    def _recheck(self) -> None:
        """Empty the cache if any key was erased since the last count. Erasure only
        ever adds rows without a key (tombstones) or takes keys away, and nothing
        gives a key back, so an unchanged count means no erasure happened."""
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT count(*) AS n FROM personal_data_keys WHERE data_key IS NULL")
        erased = int(row["n"]) if row else 0
        with self._lock:
            if erased != self._erased_rows:
                self._ciphers.clear()
                self._epoch += 1
                self._erased_rows = erased
            self._recheck_at = time.monotonic() + self.recheck_seconds

    def _remember(
        self, owner_id: UUID, row: Mapping[str, Any], epoch: int
    ) -> AESCipher | None:
        cipher = None if row["data_key"] is None else DataKeyCipher(self._unwrap(row))
        with self._lock:
            if epoch == self._epoch:  # else an erasure may have come after the read
                self._ciphers[owner_id] = cipher
                if len(self._ciphers) > CACHED_KEYS:
                    self._ciphers.popitem(last=False)
        return cipher

    def forget(self) -> None:
        """Read every key again on next use (after an erasure was recorded)."""
        with self._lock:
            self._ciphers.clear()
            self._epoch += 1
            self._recheck_at = 0.0

    def _row(self, owner_id: UUID) -> dict[str, Any] | None:
        with self.database.transaction(commit=False) as tx:
            return tx.one(
                "SELECT data_key, wrapped, erased_at FROM personal_data_keys WHERE owner_id = ?",
                (str(owner_id),),
            )

    def _create(self, owner: Owner) -> None:
        key = os.urandom(DATA_KEY_BYTES)
        stored = key if self.master is None else self.master.encrypt(key)
        organisation = None if owner.organisation_id is None else str(owner.organisation_id)
        with self.database.transaction() as tx:
            # A tombstone (or a key another process made first) wins: no new key then.
            tx.execute(
                "INSERT INTO personal_data_keys (owner_id, organisation_id, data_key, wrapped)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (owner_id) DO NOTHING",
                (
                    str(owner.id),
                    organisation,
                    base64.b64encode(stored).decode(),
                    int(self.master is not None),
                ),
            )

    def _unwrap(self, row: Mapping[str, Any]) -> bytes:
        stored = base64.b64decode(row["data_key"])
        if not row["wrapped"]:
            return stored
        if self.master is None:
            raise MasterKeyMismatch(
                "the data keys are wrapped by a master key: set LIFECYCLE_EVENT_CIPHER_KEY"
            )
        try:
            return self.master.decrypt(stored)
        except ValueError:
            raise MasterKeyMismatch(
                "LIFECYCLE_EVENT_CIPHER_KEY does not open the stored data keys: it is not the "
                "key they were written with"
            ) from None

    def check(self) -> None:
        """Raise a clear error now if the stored keys cannot be opened with this setting."""
        with self.database.transaction(commit=False) as tx:
            row = tx.one(
                "SELECT data_key, wrapped FROM personal_data_keys WHERE data_key IS NOT NULL"
                " ORDER BY wrapped DESC LIMIT 1"
            )
        if row is not None:
            self._unwrap(row)

    # --- linking and erasing ---------------------------------------------------------

    def link(self, owner_id: UUID, organisation_id: UUID) -> None:
        """A new buyer's purchase completed into ``organisation_id``: its data key is
        erased with that organisation's (at once, if that was already erased)."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE personal_data_keys SET organisation_id = ?"
                " WHERE owner_id = ? AND organisation_id IS NULL",
                (str(organisation_id), str(owner_id)),
            )
            erased = tx.one(
                "SELECT erased_at FROM personal_data_keys WHERE owner_id = ?"
                " AND erased_at IS NOT NULL",
                (str(organisation_id),),
            )
            if erased is not None:
                self._erase_rows(tx, organisation_id, str(erased["erased_at"]))

    def erase(self, organisation_id: UUID, at: datetime) -> None:
        """Delete for good the data keys of the organisation and of every owner linked
        to it, leaving tombstones. Repeating it changes nothing."""
        with self.database.transaction() as tx:
            if self.database.dialect == "sqlite":
                # Overwrite the freed bytes rather than leave them in the file.
                tx.execute("PRAGMA secure_delete = ON")
            tx.execute(
                "INSERT INTO personal_data_keys (owner_id, organisation_id, data_key, wrapped,"
                " erased_at) VALUES (?, ?, NULL, 0, ?) ON CONFLICT (owner_id) DO NOTHING",
                (str(organisation_id), str(organisation_id), at.isoformat()),
            )
            self._erase_rows(tx, organisation_id, at.isoformat())
        self.forget()
        self._purge_old_copies()

    @staticmethod
    def _erase_rows(tx: Any, organisation_id: UUID, at: str) -> None:
        tx.execute(
            "UPDATE personal_data_keys SET data_key = NULL, wrapped = 0,"
            " erased_at = COALESCE(erased_at, ?) WHERE owner_id = ? OR organisation_id = ?",
            (at, str(organisation_id), str(organisation_id)),
        )

    def _purge_old_copies(self) -> None:
        """Best effort: have the database drop the old versions of the erased rows now
        (PostgreSQL's VACUUM; SQLite's checkpoint of its write-ahead log) rather than
        at some later maintenance. Backups and replicas keep theirs (see the decision
        record)."""
        datastore: Any = self.database.datastore
        if self.database.dialect == "postgres":
            with datastore.get_connection() as connection:  # autocommit: VACUUM may run
                connection.execute("VACUUM personal_data_keys")
            return
        path = getattr(getattr(datastore, "pool", None), "db_name", None)
        if isinstance(path, str) and not path.startswith(("file:", ":memory:")):
            with sqlite3.connect(path, timeout=30) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()

    def erased_owners(self, organisation_id: UUID) -> list[str]:
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                "SELECT owner_id FROM personal_data_keys WHERE erased_at IS NOT NULL"
                " AND (owner_id = ? OR organisation_id = ?) ORDER BY owner_id",
                (str(organisation_id), str(organisation_id)),
            )
        return [str(row["owner_id"]) for row in rows]
