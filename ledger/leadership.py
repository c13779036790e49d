"""One active process of a kind at a time: a PostgreSQL advisory lock, held on a
connection of its own, and taken again when that connection is lost (the lock goes
with it: after a database restart, a standby may have taken it meanwhile)."""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

log = logging.getLogger("ledger.leadership")

# How often a leader checks that its connection, and so its lock, still stands.
CHECK_SECONDS = 5.0


class Leadership:
    """Whether this process leads, for one lock key."""

    def __init__(self, database_url: str, key: int, name: str) -> None:
        self.database_url = database_url
        self.key = key
        self.name = name
        self._conn: psycopg.Connection[Any] | None = None
        self._checked = 0.0

    def held(self) -> bool:
        """True while this process holds the lock; tries to take it when it does not
        (False: another process leads)."""
        now = time.monotonic()
        if self._conn is not None and now - self._checked < CHECK_SECONDS:
            return True
        self._checked = now
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                log.warning("%s lost its database connection, and with it the lead", self.name)
                self.lost()
        conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row is not None and row[0]:
            log.info("%s leads", self.name)
            self._conn = conn
            return True
        conn.close()
        return False

    def lost(self) -> None:
        """Forget the lead (its connection failed): the next :meth:`held` checks anew."""
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error as exc:  # the connection is gone, and the lock with it
                log.info("%s: releasing the lead: %s", self.name, exc)
        self.lost()
