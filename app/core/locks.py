"""Cluster-wide mutual exclusion for scheduled jobs: a PostgreSQL advisory lock (one holder
across all replicas), or a process lock on SQLite (the embedded mode runs one process)."""

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def try_exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Yields True when this caller holds the lock named ``name``, False when someone else does."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}))
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    conn.commit()
        return
    with _guard:
        lock = _process_locks.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
