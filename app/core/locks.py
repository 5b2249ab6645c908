"""Cluster-wide mutual exclusion for scheduled jobs: a PostgreSQL advisory lock (one holder
across all replicas), or a process lock on SQLite (the embedded mode runs one process).

An advisory lock is the whole database's, so its key names the schema too: services on other
schemas of the same database (their data apart, like the test suite's schema per test) never
wait for each other's jobs."""

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()
_POLL_S = 0.05


def _key(schema: str, name: str) -> int:
    digest = hashlib.sha256(f"{schema}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _try_pg(conn: Connection, key: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        conn.commit()
        if held or time.monotonic() >= deadline:
            return held
        time.sleep(_POLL_S)


@contextmanager
def try_exclusive(engine: Engine, name: str, wait_s: float = 0.0) -> Iterator[bool]:
    """Yields True when this caller holds the lock named ``name`` (waiting up to ``wait_s``),
    False when someone else still holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _key(str(conn.scalar(text("SELECT current_schema()"))), name)
            held = _try_pg(conn, key, wait_s)
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    with _guard:
        lock = _process_locks.setdefault(name, threading.Lock())
    held = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
