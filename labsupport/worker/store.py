"""The idempotency store: which jobs are done, which are being worked on.

SQS delivers every message at least once, so a worker must be able to tell a
job it already finished from a new one. :class:`JobStore` keeps that record in
a SQLite file that several worker processes share (WAL mode, every change in
a short ``BEGIN IMMEDIATE`` transaction), so the record outlives any worker.

A job goes through two steps:

1. :meth:`JobStore.claim` takes a lease on the job key for some seconds. It
   answers ``CLAIMED`` (go ahead), ``DONE`` (finished before: acknowledge
   the message without redoing the work) or ``BUSY`` (another worker holds a
   live lease: leave the message for later).
2. :meth:`JobStore.complete` marks the job done once the work succeeded;
   :meth:`JobStore.release` gives the lease back after a failure.

A worker killed mid-job (SIGKILL) neither completes nor releases: its lease
simply runs out, so the job is neither lost nor marked done, and the next
worker that receives the message claims it again. Leases are extended with
:meth:`JobStore.extend` by the same heartbeat that extends the message's
visibility timeout.

Every delivery a worker handles is also written down
(:meth:`JobStore.record_delivery`), which is where the lab's counts of
duplicate deliveries, jobs per worker and throughput come from.

Limitations: the lease uses each process's wall clock; workers on different
machines would need clocks that agree to well within a lease. SQLite over a
network file system does not give the locking this relies on.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "Delivery", "JobStore"]

logger = logging.getLogger(__name__)

# How long a writer waits for another process's transaction, in milliseconds.
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_key     TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('claimed', 'done')),
    owner       TEXT NOT NULL,
    lease_until REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    result      TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key       TEXT NOT NULL,
    worker        TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    started_at    REAL NOT NULL,
    seconds       REAL NOT NULL
);
"""


class Claim(enum.Enum):
    """What :meth:`JobStore.claim` found."""

    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Delivery:
    """One message a worker handled, as written in the store.

    Attributes:
        job_key: the job the message named.
        worker: the id of the worker that handled it.
        message_id: the SQS MessageId.
        receive_count: ApproximateReceiveCount of that delivery.
        outcome: "done", "duplicate", "failed", "busy", "released" or
            "lease-lost" (see :mod:`labsupport.worker.daemon`).
        started_at: when handling started, seconds since the epoch.
        seconds: how long handling took, in seconds.
    """

    job_key: str
    worker: str
    message_id: str
    receive_count: int
    outcome: str
    started_at: float
    seconds: float


class JobStore:
    """Finished and claimed jobs in a SQLite file shared by processes.

    Args:
        path: the database file; created with its tables if missing. Use
            ``":memory:"`` for a store private to this object (tests).

    One object may be used from several threads (calls are serialised by a
    lock); each process opens its own.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions are opened explicitly
            check_same_thread=False,
        )
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    # -- claim / complete -----------------------------------------------------

    def claim(self, job_key: str, owner: str, lease_seconds: float) -> Claim:
        """Try to take ``job_key`` for ``lease_seconds`` seconds.

        Side effect: on ``CLAIMED`` the job's row names ``owner`` and its
        attempt count goes up by one. A lease that ran out (its worker died
        or stopped extending it) is taken over.
        """
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                "SELECT state, owner, lease_until FROM jobs WHERE job_key = ?",
                (job_key,),
            ).fetchone()
            if row is not None and row[0] == "done":
                return Claim.DONE
            if row is not None and row[1] != owner and row[2] > now:
                return Claim.BUSY
            db.execute(
                "INSERT INTO jobs (job_key, state, owner, lease_until, attempts) "
                "VALUES (?, 'claimed', ?, ?, 1) "
                "ON CONFLICT (job_key) DO UPDATE SET owner = excluded.owner, "
                "lease_until = excluded.lease_until, attempts = attempts + 1",
                (job_key, owner, now + lease_seconds),
            )
        if row is not None:
            logger.debug("job %s taken over by %s from %s", job_key, owner, row[1])
        return Claim.CLAIMED

    def extend(self, job_key: str, owner: str, lease_seconds: float) -> bool:
        """Push ``owner``'s lease on a claimed job to now + ``lease_seconds``.

        Returns False if ``owner`` no longer holds the claim.
        """
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE jobs SET lease_until = ? "
                "WHERE job_key = ? AND owner = ? AND state = 'claimed'",
                (time.time() + lease_seconds, job_key, owner),
            ).rowcount
        return bool(changed)

    def complete(self, job_key: str, owner: str, result: str = "") -> bool:
        """Mark the job done; the work it stands for has succeeded.

        Returns True if this call made it done, False if it was done already
        (another worker finished it after taking over a lapsed lease).
        """
        with self._transaction() as db:
            changed = db.execute(
                "INSERT INTO jobs (job_key, state, owner, lease_until, attempts, "
                "finished_at, result) VALUES (?, 'done', ?, 0, 1, ?, ?) "
                "ON CONFLICT (job_key) DO UPDATE SET state = 'done', "
                "owner = excluded.owner, finished_at = excluded.finished_at, "
                "result = excluded.result WHERE state != 'done'",
                (job_key, owner, time.time(), result),
            ).rowcount
        return bool(changed)

    def release(self, job_key: str, owner: str) -> bool:
        """Give up ``owner``'s claim at once, so the next delivery may claim it.

        Returns False if ``owner`` did not hold the claim.
        """
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE jobs SET lease_until = 0 "
                "WHERE job_key = ? AND owner = ? AND state = 'claimed'",
                (job_key, owner),
            ).rowcount
        return bool(changed)

    # -- what happened --------------------------------------------------------

    def record_delivery(self, delivery: Delivery) -> None:
        """Append one handled delivery to the record."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deliveries (job_key, worker, message_id, "
                "receive_count, outcome, started_at, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.job_key,
                    delivery.worker,
                    delivery.message_id,
                    delivery.receive_count,
                    delivery.outcome,
                    delivery.started_at,
                    delivery.seconds,
                ),
            )

    def deliveries(self) -> list[Delivery]:
        """Every recorded delivery, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_key, worker, message_id, receive_count, outcome, "
                "started_at, seconds FROM deliveries ORDER BY id"
            ).fetchall()
        return [Delivery(*row) for row in rows]

    def done_jobs(self) -> set[str]:
        """The keys of every finished job."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_key FROM jobs WHERE state = 'done'"
            ).fetchall()
        return {row[0] for row in rows}

    def state(self, job_key: str) -> str | None:
        """ "done", "claimed" (lease live or lapsed) or None if never claimed."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM jobs WHERE job_key = ?", (job_key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def live_claims(self) -> dict[str, str]:
        """Jobs whose lease has not run out, mapped to the worker holding it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_key, owner FROM jobs "
                "WHERE state = 'claimed' AND lease_until > ?",
                (time.time(),),
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def count_outcome(self, outcome: str) -> int:
        """How many recorded deliveries ended with ``outcome``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE outcome = ?", (outcome,)
            ).fetchone()
        return int(row[0])

    # -- life cycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so a read-then-write
        # (claim) cannot interleave with another process's claim.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
