"""The worker loop: long-poll, hand each job to a handler, delete on success.

:class:`Worker` receives messages from one queue and, for each, claims its
job in the :class:`~labsupport.worker.store.JobStore`, runs the handler while
a :class:`~labsupport.worker.heartbeat.Heartbeat` keeps the message hidden,
and then:

============  ===============================================================
outcome       what the worker did
============  ===============================================================
done          the handler succeeded: job marked done, message deleted
duplicate     the store says the job was done before, or another worker is
              doing it now from a *different* message (a second copy sent
              by the producer): message deleted, the work not redone
failed        the handler raised, or the body is not a valid job: message
              not deleted (its visibility set to a back-off), so it returns,
              and after maxReceiveCount receives the queue's redrive policy
              moves it to the dead-letter queue
busy          another worker holds a live claim on the job for this very
              message (its visibility had lapsed): message hidden until that
              claim's lease ends, then it returns
released      the worker was stopped and the job could not finish in time:
              claim given back and visibility set to 0, so another worker
              takes it at once
lease-lost    the handler succeeded but the job could not be recorded as
              this worker's (another worker took its lapsed claim over: the
              job is *not* marked done here, the message not deleted), or
              the message could no longer be deleted (its receipt handle had
              lapsed; the job is marked done, so the next delivery is a
              duplicate)
============  ===============================================================

Why a second copy is deleted while its job runs: the holder is working from
its own message, which is deleted only if the holder succeeds and otherwise
returns (failure, stop, or a killed worker whose visibility runs out), so the
job is never lost; leaving the copy in the queue instead would make every
receive of it count towards maxReceiveCount, and a long job would push a good
job's copy into the dead-letter queue.

Each handled message gives one INFO log line (job, outcome, seconds, receive
count, worker id).

Claims in the store belong to a random token drawn per :class:`Worker`
(:func:`~labsupport.worker.store.new_token`), so two workers given the same
``worker_id`` cannot both hold one job; the id is only for display.

Stopping: :meth:`Worker.request_stop` (what SIGINT and SIGTERM call once
:func:`install_signal_handlers` is in place) lets the current job finish
within ``stop_grace`` seconds, releases any other received message, and makes
:meth:`Worker.run` return after the current long poll. A second request
releases the current job at once, or, with no job held, abandons the long
poll at once.

The time from the first request to :meth:`Worker.run` returning is at most:

* idle: the long poll in progress, ``wait_time`` s (its client's read
  timeout, ``wait_time`` + a few s, if the endpoint hangs);
* mid-job: min(job time, ``stop_grace``) + the heartbeat's join timeout
  (1 s) + one SQS call (delete or release) made with ``release_sqs``, the
  client of single attempts and short timeouts.

A second request while idle returns within ``SUPERVISE_TICK_S``; mid-job,
within one ``release_sqs`` call.

Limitations: a job that is released while its handler is still running goes
on in a background thread until the process exits; its side effects (an
upload) may still land, which is harmless only for idempotent work such as
the thumbnails. A long poll abandoned by a second stop request may still
receive messages; they return when their visibility timeout ends.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labsupport.errors import InvalidParameter, LabError
from labsupport.limits import (
    check_max_messages,
    check_visibility_timeout,
    check_wait_time,
)
from labsupport.worker.heartbeat import Heartbeat
from labsupport.worker.store import Claim, Delivery, JobStore, new_token

__all__ = [
    "JOB_ID_PATTERN",
    "BadJob",
    "Job",
    "Worker",
    "WorkerSettings",
    "backoff_seconds",
    "check_run_limit",
    "install_signal_handlers",
    "parse_job",
]

logger = logging.getLogger(__name__)

# How often the supervising loop looks at a running job and the stop flags.
SUPERVISE_TICK_S = 0.05
# Pause before polling again after the endpoint could not be reached, seconds.
RETRY_PAUSE_S = 1.0
# A job id: letters, digits, "-" and "_", starting with a letter or digit, so
# it is safe inside an object key or a file name.
JOB_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_JOB_ID = re.compile(JOB_ID_PATTERN)
# ChangeMessageVisibility takes 0 to 43,200 s (12 hours).
MAX_VISIBILITY_S = 43_200


class BadJob(LabError):
    """A job the handler cannot do: a malformed record, input that is wrong."""


@dataclass(frozen=True)
class Job:
    """One received message, read as a job.

    Attributes:
        key: the job's idempotency key in the store: ``scope/job_id`` (or
            ``scope/message-<MessageId>`` when the body is not a valid job).
        payload: the decoded JSON body ({} when it could not be decoded).
        message_id: the SQS MessageId.
        receipt_handle: the handle of this delivery.
        receive_count: ApproximateReceiveCount of this delivery.
        error: why the body is not a valid job, or "".
        job_id: the body's ``job_id`` ("" when invalid).
    """

    key: str
    payload: dict[str, Any]
    message_id: str
    receipt_handle: str
    receive_count: int
    error: str = ""
    job_id: str = ""


Handler = Callable[[Job], str]


def _finite(rule: str, value: Any, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidParameter(rule, f"a number from {low:g} to {high:g}", value)
    return float(value)


def _whole(rule: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(rule, f"a whole number from {low} to {high}", value)
    if not low <= value <= high:
        raise InvalidParameter(rule, f"a whole number from {low} to {high}", value)
    return value


def check_run_limit(rule: str, value: int | None) -> int | None:
    """A limit of :meth:`Worker.run` is None (no limit) or at least 1."""
    if value is None:
        return None
    return _whole(rule, value, 1, 10**9)


@dataclass
class WorkerSettings:
    """How a worker polls, hides, retries and stops.

    Every value is checked when the settings are made, before any request.

    Attributes:
        wait_time: WaitTimeSeconds of each receive, 0 to 20 seconds.
        max_messages: MaxNumberOfMessages of each receive, 1 to 10.
        visibility_timeout: seconds a received message stays hidden, 1 to
            43,200; the heartbeat extends it by as much while the job runs.
        heartbeat_interval: seconds between extensions; None means a third
            of the visibility timeout.
        failure_backoff: visibility, in seconds (0 to 43,200), given to a
            failed message on its first receive; it doubles with each
            receive up to ``backoff_cap``. 0 lets it return at once.
        backoff_cap: the largest back-off, 0 to 43,200 seconds.
        stop_grace: seconds (0 to 43,200) the current job may go on after a
            stop request before its message is released.
        worker_id: the name written in the store and the log.
    """

    wait_time: int = 10
    max_messages: int = 1
    visibility_timeout: int = 30
    heartbeat_interval: float | None = None
    failure_backoff: int = 1
    backoff_cap: int = 60
    stop_grace: float = 30.0
    worker_id: str = field(default_factory=lambda: f"worker-{os.getpid()}")

    def __post_init__(self) -> None:
        check_wait_time(self.wait_time)
        check_max_messages(self.max_messages)
        check_visibility_timeout(self.visibility_timeout)
        if self.visibility_timeout < 1:
            raise InvalidParameter(
                "worker VisibilityTimeout (seconds)",
                "1 to 43200",
                self.visibility_timeout,
                "A worker needs its messages hidden while it works on them.",
            )
        _whole("failure back-off (seconds)", self.failure_backoff, 0, MAX_VISIBILITY_S)
        _whole("back-off cap (seconds)", self.backoff_cap, 0, MAX_VISIBILITY_S)
        _finite("stop grace (seconds)", self.stop_grace, 0, MAX_VISIBILITY_S)
        if self.heartbeat_interval is not None:
            _finite("heartbeat interval (seconds)", self.heartbeat_interval, 0.01, 3600)

    @property
    def beat_every(self) -> float:
        """Seconds between heartbeats."""
        if self.heartbeat_interval is not None:
            return self.heartbeat_interval
        return max(self.visibility_timeout / 3, 0.2)

    @property
    def lease_seconds(self) -> float:
        """The store lease: a little shorter than the message stays hidden.

        A claim then lapses before the message of a dead worker returns, so
        the next receiver can take the job over instead of finding it busy.
        """
        return self.visibility_timeout - min(1.0, self.visibility_timeout / 4)


def backoff_seconds(receive_count: int, base: int, cap: int) -> int:
    """Visibility for a failed message: ``base * 2**(receive_count - 1)``, capped."""
    if base <= 0:
        return 0
    return int(min(base * 2 ** max(receive_count - 1, 0), cap))


def parse_job(message: dict[str, Any], scope: str = "") -> Job:
    """Read a received message as a job; a bad body gives a Job with ``error``.

    The body must be a JSON object whose ``job_id`` matches
    :data:`JOB_ID_PATTERN`. The store key is ``scope/job_id`` (just the job
    id with no scope), so jobs of different buckets never share a key.
    """
    message_id = str(message["MessageId"])
    handle = str(message["ReceiptHandle"])
    count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    prefix = f"{scope}/" if scope else ""
    error = ""
    try:
        payload = json.loads(message["Body"])
    except ValueError as err:
        payload, error = {}, f"the body is not JSON ({err})"
    if not error and not isinstance(payload, dict):
        payload, error = {}, "the body is not a JSON object"
    job_id = payload.get("job_id")
    if not error and not (isinstance(job_id, str) and _JOB_ID.fullmatch(job_id)):
        error = f"job_id must be a string matching {JOB_ID_PATTERN}"
    if error:
        key = f"{prefix}message-{message_id}"
        return Job(key, payload, message_id, handle, count, f"bad job: {error}")
    return Job(f"{prefix}{job_id}", payload, message_id, handle, count, "", job_id)


class Worker:
    """Processes the jobs of one queue until stopped.

    Args:
        sqs: a boto3 SQS client for every call but ReceiveMessage.
        queue_url: the queue to work on.
        handler: called with each claimed :class:`Job`; returns a short
            result text; raises to fail the job.
        store: the idempotency store shared with the other workers.
        settings: polling, back-off and stop settings.
        poll_sqs: the client for ReceiveMessage (its read timeout must
            outlast ``wait_time``); default ``sqs``.
        release_sqs: the client for the calls made once a stop was
            requested (best: one attempt, short timeouts); default ``sqs``.
        key_scope: put before each job id to make its store key (the
            thumbnail worker uses its bucket).
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        store: JobStore,
        settings: WorkerSettings | None = None,
        *,
        poll_sqs: Any = None,
        release_sqs: Any = None,
        key_scope: str = "",
    ) -> None:
        self.sqs = sqs
        self.poll_sqs = poll_sqs if poll_sqs is not None else sqs
        self.release_sqs = release_sqs if release_sqs is not None else sqs
        self.queue_url = queue_url
        self.handler = handler
        self.store = store
        self.settings = settings or WorkerSettings()
        self.key_scope = key_scope
        self.token = new_token()
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._force = threading.Event()
        self._note = ""

    @property
    def worker_id(self) -> str:
        """The name this worker writes in the store and the log."""
        return self.settings.worker_id

    def request_stop(self) -> None:
        """Ask the loop to stop; a second call also abandons the current job."""
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    # -- the loop -----------------------------------------------------------

    def run(
        self, *, max_jobs: int | None = None, max_empty_polls: int | None = None
    ) -> Counter[str]:
        """Poll and work until stopped; return how many deliveries had each outcome.

        Args:
            max_jobs: return after handling this many messages (None: no limit).
            max_empty_polls: return after this many empty polls in a row.
        """
        check_run_limit("max jobs", max_jobs)
        check_run_limit("empty polls before exit", max_empty_polls)
        empty = 0
        logger.info("worker %s polling %s", self.worker_id, self.queue_url)
        while not self._stop.is_set():
            messages = self._receive()
            empty = 0 if messages else empty + 1
            for index, message in enumerate(messages):
                if self._stop.is_set():
                    self._release_unstarted(messages[index:])
                    break
                self.handle(message)
            if max_jobs is not None and self.outcomes.total() >= max_jobs:
                break
            if max_empty_polls is not None and empty >= max_empty_polls:
                break
        logger.info("worker %s stopped: %s", self.worker_id, dict(self.outcomes))
        return self.outcomes

    def _receive(self) -> list[dict[str, Any]]:
        """One long poll, in a thread so that a second stop request ends it."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["messages"] = self._receive_once()
            except BaseException as err:  # handed to the loop's thread below
                box["error"] = err

        thread = threading.Thread(target=target, name="long-poll", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(SUPERVISE_TICK_S)
            if self._force.is_set():
                logger.info("worker %s abandoned its long poll", self.worker_id)
                return []
        if "error" in box:
            raise box["error"]
        messages: list[dict[str, Any]] = box["messages"]
        return messages

    def _receive_once(self) -> list[dict[str, Any]]:
        try:
            response = self.poll_sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.settings.max_messages,
                WaitTimeSeconds=self.settings.wait_time,
                VisibilityTimeout=self.settings.visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except BotoCoreError as err:
            # A daemon outlives a hiccup of the endpoint: wait, then poll again.
            logger.warning("receive failed, retrying in %s s: %s", RETRY_PAUSE_S, err)
            self._stop.wait(RETRY_PAUSE_S)
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _release_unstarted(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages)
        ]
        try:
            self.release_sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url, Entries=entries
            )
        except (ClientError, BotoCoreError) as err:
            # They return when their visibility timeout ends anyway.
            logger.warning("could not release %d messages: %s", len(entries), err)
        for message in messages:
            logger.info(
                "message %s released unstarted by %s",
                message["MessageId"],
                self.worker_id,
            )

    # -- one message --------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> str:
        """Handle one received message; return its outcome (see module doc)."""
        started = time.time()
        self._note = ""
        job = parse_job(message, self.key_scope)
        claim = self.store.claim(
            job.key,
            self.token,
            self.settings.lease_seconds,
            worker=self.worker_id,
            message_id=job.message_id,
        )
        if claim is Claim.DONE:
            self._delete(job)
            outcome = "duplicate"
        elif claim is Claim.BUSY:
            outcome = self._busy(job)
        else:
            outcome = self._work(job)
        seconds = time.time() - started
        self._record(job, outcome, started, seconds)
        return outcome

    def _busy(self, job: Job) -> str:
        """Another worker holds the job: drop a second copy, or wait for it."""
        holder = self.store.holder(job.key)
        if holder is not None and holder.message_id not in ("", job.message_id):
            # The holder's own message returns if it fails: this copy is spare.
            self._delete(job)
            self._note = f"copy of a job in progress with {holder.worker}"
            return "duplicate"
        lease_left = 0.0 if holder is None else holder.lease_until - time.time()
        hide = min(max(math.ceil(lease_left) + 1, 1), MAX_VISIBILITY_S)
        self._set_visibility(job.receipt_handle, hide)
        return "busy"

    def _work(self, job: Job) -> str:
        settings = self.settings
        heartbeat = Heartbeat(
            self.sqs,
            self.queue_url,
            job.receipt_handle,
            visibility_timeout=settings.visibility_timeout,
            interval=settings.beat_every,
            on_beat=lambda: self.store.extend(
                job.key, self.token, settings.lease_seconds
            ),
        )
        with heartbeat:
            finished, result, error = self._run_bounded(job)
        if not finished:
            self.store.release(job.key, self.token)
            self._set_visibility(job.receipt_handle, 0)
            return "released"
        if error is not None:
            self.store.release(job.key, self.token)
            backoff = backoff_seconds(
                job.receive_count, settings.failure_backoff, settings.backoff_cap
            )
            self._set_visibility(job.receipt_handle, backoff)
            self._note = f"{type(error).__name__}: {error}"
            return "failed"
        if not self.store.complete(job.key, self.token, result):
            # Another worker took the lapsed claim over: it decides, not us.
            self._note = "the claim was taken over; not marked done here"
            return "lease-lost"
        deleted = self._delete(job)
        return "done" if deleted and not heartbeat.lost else "lease-lost"

    def _run_bounded(self, job: Job) -> tuple[bool, str, BaseException | None]:
        """Run the handler in a thread; give up on it if the stop bound passes.

        Returns (finished, result, error).
        """
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                if job.error:
                    raise BadJob(job.error)
                box["result"] = self.handler(job)
            except Exception as err:  # the job's failure is an outcome, not a crash
                box["error"] = err

        thread = threading.Thread(target=target, name=f"job-{job.key}", daemon=True)
        thread.start()
        deadline: float | None = None
        while thread.is_alive():
            thread.join(SUPERVISE_TICK_S)
            if self._force.is_set():
                return False, "", None
            if self._stop.is_set() and deadline is None:
                deadline = time.monotonic() + self.settings.stop_grace
            if deadline is not None and time.monotonic() > deadline:
                return False, "", None
        return True, str(box.get("result", "")), box.get("error")

    # -- SQS calls that may fail without stopping the worker ---------------

    def _client(self) -> Any:
        """Once stopping, calls go through the client of single short attempts."""
        return self.release_sqs if self._stop.is_set() else self.sqs

    def _delete(self, job: Job) -> bool:
        try:
            self._client().delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=job.receipt_handle
            )
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not delete job %s: %s", job.key, err)
            return False
        return True

    def _set_visibility(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client().change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=seconds,
            )
        except (ClientError, BotoCoreError) as err:
            # The message returns when its current timeout ends anyway.
            logger.warning("could not set visibility to %s s: %s", seconds, err)

    def _record(self, job: Job, outcome: str, started: float, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.store.record_delivery(
            Delivery(
                job_key=job.key,
                worker=self.worker_id,
                message_id=job.message_id,
                receive_count=job.receive_count,
                outcome=outcome,
                started_at=started,
                seconds=seconds,
            )
        )
        logger.info(
            "job %s %s in %.3f s (receive %d, worker %s)%s",
            job.key,
            outcome,
            seconds,
            job.receive_count,
            self.worker_id,
            f": {self._note}" if self._note else "",
        )


def install_signal_handlers(worker: Worker) -> Callable[[], None]:
    """Make SIGINT and SIGTERM call ``worker.request_stop``.

    Must be called from the main thread. Returns a function that puts the
    previous handlers back.
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info(
            "worker %s got %s: %s",
            worker.worker_id,
            signal.Signals(signum).name,
            "stopping at once" if worker.stopping else "finishing up",
        )
        worker.request_stop()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
