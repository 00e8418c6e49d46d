"""The idempotency store: which jobs are done, which are being worked on.

SQS delivers every message at least once, so a worker must be able to tell a
job it already finished from a new one. :class:`JobStore` keeps that record in
a SQLite file that several worker processes share (WAL mode, every change in
a short ``BEGIN IMMEDIATE`` transaction), so the record outlives any worker.

A job goes through two steps:

1. :meth:`JobStore.claim` takes a lease on the job key for some seconds. It
   answers ``CLAIMED`` (go ahead), ``DONE`` (finished before: acknowledge
   the message without redoing the work) or ``BUSY`` (another worker holds a
   live lease; :meth:`JobStore.holder` says which message it is working on
   and when its lease ends).
2. :meth:`JobStore.complete` marks the job done once the work succeeded;
   :meth:`JobStore.release` gives the lease back after a failure.

A claim belongs to an *owner token*: a random string each worker process
draws for itself (:func:`new_token`), so two workers started with the same
display name still cannot both hold one job. The display name (``worker``)
is stored beside it for logs and the lab's tables.

A worker killed mid-job (SIGKILL) neither completes nor releases: its lease
simply runs out, so the job is neither lost nor marked done, and the next
worker that receives the message claims it again. Leases are extended with
:meth:`JobStore.extend` by the same heartbeat that extends the message's
visibility timeout; once another owner has taken a lapsed lease over, the
old owner can neither extend nor complete it.

Every delivery a worker handles is also written down
(:meth:`JobStore.record_delivery`), which is where the lab's counts of
duplicate deliveries, jobs per worker and throughput come from.

Errors: a path that cannot hold the store (missing directory, a directory, a
file that is not a SQLite database or was made by an older version of the
kit) raises :class:`~labsupport.errors.ConfigError` naming the path and the
reason, when the store is opened.

Limitations: the lease uses each process's wall clock; workers on different
machines would need clocks that agree to well within a lease. SQLite over a
network file system does not give the locking this relies on. A store opened
with ``read_only=True`` writes nothing, but SQLite may still create the
``-wal`` and ``-shm`` side files of a WAL database next to it.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labsupport.errors import ConfigError

__all__ = ["Claim", "Delivery", "Holder", "JobStore", "new_token"]

logger = logging.getLogger(__name__)

# How long a writer waits for another process's transaction, in milliseconds.
BUSY_TIMEOUT_MS = 10_000
# Bumped whenever the tables change; a file with another version is refused.
SCHEMA_VERSION = 2

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    job_key     TEXT PRIMARY KEY,
    state       TEXT NOT NULL CHECK (state IN ('claimed', 'done')),
    owner       TEXT NOT NULL,
    worker      TEXT NOT NULL,
    message_id  TEXT NOT NULL DEFAULT '',
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
PRAGMA user_version = {SCHEMA_VERSION};
"""


def new_token() -> str:
    """A random claim-owner token, drawn once per worker process."""
    return uuid.uuid4().hex


class Claim(enum.Enum):
    """What :meth:`JobStore.claim` found."""

    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class Holder:
    """Who holds a live claim on a job.

    Attributes:
        worker: the holder's display name.
        message_id: the SQS MessageId it is working on ("" if not given).
        lease_until: when its lease runs out, seconds since the epoch.
    """

    worker: str
    message_id: str
    lease_until: float


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
        read_only: open an existing store without changing it (no tables
            created, no journal mode switched); a missing file is a
            ConfigError then.

    One object may be used from several threads (calls are serialised by a
    lock); each process opens its own.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        _check_path(self.path, read_only)
        try:
            self._db = _open(self.path, read_only)
        except sqlite3.Error as err:
            raise _store_error(self.path, err) from err
        try:
            self._prepare()
        except sqlite3.Error as err:
            self._db.close()
            raise _store_error(self.path, err) from err
        except ConfigError:
            self._db.close()
            raise

    def _prepare(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            row[0]
            for row in self._db.execute("SELECT name FROM sqlite_master")
            if row[0] in ("jobs", "deliveries")
        }
        if tables and version != SCHEMA_VERSION:
            raise ConfigError(
                f"Cannot use {self.path!r} as the job store: it was made by an "
                f"older version of the kit (schema {version}, need "
                f"{SCHEMA_VERSION}). Delete it or pass another --store."
            )
        if self.read_only:
            if len(tables) < 2:
                raise ConfigError(
                    f"Cannot use {self.path!r} as the job store: it has no job "
                    "tables (not a job store)."
                )
            return
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    # -- claim / complete -----------------------------------------------------

    def claim(
        self,
        job_key: str,
        owner: str,
        lease_seconds: float,
        *,
        worker: str | None = None,
        message_id: str = "",
    ) -> Claim:
        """Try to take ``job_key`` for ``lease_seconds`` seconds.

        Args:
            owner: the claim token (:func:`new_token`); only this token can
                extend, complete or release the claim.
            worker: the display name written beside it (default: ``owner``).
            message_id: the message being worked on, for :meth:`holder`.

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
                "INSERT INTO jobs (job_key, state, owner, worker, message_id, "
                "lease_until, attempts) VALUES (?, 'claimed', ?, ?, ?, ?, 1) "
                "ON CONFLICT (job_key) DO UPDATE SET owner = excluded.owner, "
                "worker = excluded.worker, message_id = excluded.message_id, "
                "lease_until = excluded.lease_until, attempts = attempts + 1",
                (job_key, owner, worker or owner, message_id, now + lease_seconds),
            )
        if row is not None:
            logger.debug("job %s taken over by %s", job_key, worker or owner)
        return Claim.CLAIMED

    def holder(self, job_key: str) -> Holder | None:
        """The live claim on ``job_key``, or None (not claimed, lapsed or done)."""
        with self._lock:
            row = self._db.execute(
                "SELECT worker, message_id, lease_until FROM jobs "
                "WHERE job_key = ? AND state = 'claimed' AND lease_until > ?",
                (job_key, time.time()),
            ).fetchone()
        return None if row is None else Holder(str(row[0]), str(row[1]), row[2])

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

        Only the claim's owner can: returns False (and changes nothing) if
        ``owner`` does not hold the claim, because another owner took a
        lapsed lease over or the job is done already.
        """
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE jobs SET state = 'done', finished_at = ?, result = ? "
                "WHERE job_key = ? AND owner = ? AND state = 'claimed'",
                (time.time(), result, job_key, owner),
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
        """Jobs whose lease has not run out, mapped to the holder's display name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_key, worker FROM jobs "
                "WHERE state = 'claimed' AND lease_until > ?",
                (time.time(),),
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def count_outcome(self, outcome: str, keys: Iterable[str] | None = None) -> int:
        """How many recorded deliveries ended with ``outcome``.

        With ``keys``, only deliveries of those jobs count.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT job_key FROM deliveries WHERE outcome = ?", (outcome,)
            ).fetchall()
        if keys is None:
            return len(rows)
        wanted = set(keys)
        return sum(1 for row in rows if row[0] in wanted)

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


def _check_path(path: str, read_only: bool) -> None:
    """Refuse, with the reason, a path that cannot be a store file."""
    if path == ":memory:":
        return
    where = Path(path)
    reason = ""
    if where.is_dir():
        reason = "it is a directory"
    elif read_only and not where.exists():
        reason = "no such file"
    elif not where.exists() and not where.parent.is_dir():
        reason = f"the directory {str(where.parent)!r} does not exist"
    elif where.exists() and not where.is_file():
        reason = "it is not a regular file"
    if reason:
        raise ConfigError(f"Cannot use {path!r} as the job store: {reason}.")


def _open(path: str, read_only: bool) -> sqlite3.Connection:
    if read_only:
        target, uri = Path(path).resolve().as_uri() + "?mode=ro", True
    else:
        target, uri = path, False
    db = sqlite3.connect(
        target,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # transactions are opened explicitly
        check_same_thread=False,
        uri=uri,
    )
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


def _store_error(path: str, err: sqlite3.Error) -> ConfigError:
    return ConfigError(f"Cannot use {path!r} as the job store: {err}.")
