"""The worker loop: long-poll, hand each job to a handler, delete on success.

:class:`Worker` receives messages from one queue and, for each, claims its
job in the :class:`~labsupport.worker.store.JobStore`, runs the handler while
a :class:`~labsupport.worker.heartbeat.Heartbeat` keeps the message hidden,
and then:

============  ===============================================================
outcome       what the worker did
============  ===============================================================
done          the handler succeeded: job marked done, message deleted
duplicate     the store says the job was done before: message deleted, the
              work not redone
failed        the handler raised: message not deleted (its visibility set to
              a back-off), so it returns, and after maxReceiveCount receives
              the queue's redrive policy moves it to the dead-letter queue
busy          another worker holds a live claim on the job: message left to
              return a little later
released      the worker was stopped and the job could not finish in time:
              claim given back and visibility set to 0, so another worker
              takes it at once
lease-lost    the handler succeeded but the message could no longer be
              deleted (its receipt handle had lapsed); the job is marked done,
              so the next delivery is a duplicate
============  ===============================================================

Each handled message gives one INFO log line (job, outcome, seconds, receive
count, worker id).

Stopping: :meth:`Worker.request_stop` (what SIGINT and SIGTERM call once
:func:`install_signal_handlers` is in place) lets the current job finish
within ``stop_grace`` seconds, releases any other received message, and makes
:meth:`Worker.run` return after the current long poll. A second request
releases the current job at once.

Limitations: a job that is released while its handler is still running goes
on in a background thread until the process exits; its side effects (an
upload) may still land, which is harmless only for idempotent work such as
the thumbnails.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from labsupport.errors import InvalidParameter
from labsupport.limits import (
    check_max_messages,
    check_visibility_timeout,
    check_wait_time,
)
from labsupport.worker.heartbeat import Heartbeat
from labsupport.worker.store import Claim, Delivery, JobStore

__all__ = [
    "Job",
    "Worker",
    "WorkerSettings",
    "backoff_seconds",
    "install_signal_handlers",
    "parse_job",
]

logger = logging.getLogger(__name__)

# How often the supervising loop looks at a running job and the stop flags.
SUPERVISE_TICK_S = 0.05
# Pause before polling again after the endpoint could not be reached, seconds.
RETRY_PAUSE_S = 1.0


@dataclass(frozen=True)
class Job:
    """One received message, read as a job.

    Attributes:
        key: the job's idempotency key (``job_id`` of the body, or the
            message id when the body is not a job).
        payload: the decoded JSON body ({} when it could not be decoded).
        message_id: the SQS MessageId.
        receipt_handle: the handle of this delivery.
        receive_count: ApproximateReceiveCount of this delivery.
        error: why the body is not a valid job, or "".
    """

    key: str
    payload: dict[str, Any]
    message_id: str
    receipt_handle: str
    receive_count: int
    error: str = ""


Handler = Callable[[Job], str]


@dataclass
class WorkerSettings:
    """How a worker polls, hides, retries and stops.

    Attributes:
        wait_time: WaitTimeSeconds of each receive, 0 to 20 seconds.
        max_messages: MaxNumberOfMessages of each receive, 1 to 10.
        visibility_timeout: seconds a received message stays hidden; the
            heartbeat extends it by as much while the job runs.
        heartbeat_interval: seconds between extensions; None means a third
            of the visibility timeout.
        failure_backoff: visibility, in seconds, given to a failed message
            on its first receive; it doubles with each receive up to
            ``backoff_cap``. 0 lets it return at once.
        backoff_cap: the largest back-off, in seconds.
        stop_grace: seconds the current job may go on after a stop request
            before its message is released.
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


def parse_job(message: dict[str, Any]) -> Job:
    """Read a received message as a job; a bad body gives a Job with ``error``."""
    message_id = str(message["MessageId"])
    handle = str(message["ReceiptHandle"])
    count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    try:
        payload = json.loads(message["Body"])
        key = str(payload["job_id"])
    except (ValueError, KeyError, TypeError) as err:
        reason = f"the body is not a job ({type(err).__name__}: {err})"
        key, payload = f"message-{message_id}", {}
        return Job(key, payload, message_id, handle, count, error=reason)
    return Job(key, payload, message_id, handle, count)


class Worker:
    """Processes the jobs of one queue until stopped.

    Args:
        sqs: a boto3 SQS client.
        queue_url: the queue to work on.
        handler: called with each claimed :class:`Job`; returns a short
            result text; raises to fail the job.
        store: the idempotency store shared with the other workers.
        settings: polling, back-off and stop settings.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        store: JobStore,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.store = store
        self.settings = settings or WorkerSettings()
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._force = threading.Event()
        self._last_error = ""

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
        try:
            response = self.sqs.receive_message(
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
        for message in messages:
            self._set_visibility(message["ReceiptHandle"], 0)
            logger.info(
                "job %s released unstarted by %s", message["MessageId"], self.worker_id
            )

    # -- one message --------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> str:
        """Handle one received message; return its outcome (see module doc)."""
        started = time.time()
        self._last_error = ""
        job = parse_job(message)
        claim = self.store.claim(job.key, self.worker_id, self.settings.lease_seconds)
        if claim is Claim.DONE:
            self._delete(job)
            outcome = "duplicate"
        elif claim is Claim.BUSY:
            self._set_visibility(job.receipt_handle, int(self.settings.beat_every) + 1)
            outcome = "busy"
        else:
            outcome = self._work(job)
        seconds = time.time() - started
        self._record(job, outcome, started, seconds, self._last_error)
        return outcome

    def _work(self, job: Job) -> str:
        heartbeat = Heartbeat(
            self.sqs,
            self.queue_url,
            job.receipt_handle,
            visibility_timeout=self.settings.visibility_timeout,
            interval=self.settings.beat_every,
            on_beat=lambda: self.store.extend(
                job.key, self.worker_id, self.settings.lease_seconds
            ),
        )
        with heartbeat:
            finished, result, error = self._run_bounded(job)
        if not finished:
            self.store.release(job.key, self.worker_id)
            self._set_visibility(job.receipt_handle, 0)
            return "released"
        if error is not None:
            self.store.release(job.key, self.worker_id)
            settings = self.settings
            backoff = backoff_seconds(
                job.receive_count, settings.failure_backoff, settings.backoff_cap
            )
            self._set_visibility(job.receipt_handle, backoff)
            self._last_error = f"{type(error).__name__}: {error}"
            return "failed"
        self.store.complete(job.key, self.worker_id, result)
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
                    raise ValueError(job.error)
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

    def _delete(self, job: Job) -> bool:
        try:
            self.sqs.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=job.receipt_handle
            )
        except ClientError as err:
            logger.warning("could not delete job %s: %s", job.key, err)
            return False
        return True

    def _set_visibility(self, receipt_handle: str, seconds: int) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=seconds,
            )
        except (ClientError, BotoCoreError) as err:
            # The message returns when its current timeout ends anyway.
            logger.warning("could not set visibility to %s s: %s", seconds, err)

    def _record(
        self, job: Job, outcome: str, started: float, seconds: float, error: str
    ) -> None:
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
            f": {error}" if error else "",
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
            "releasing the current job" if worker.stopping else "finishing up",
        )
        worker.request_stop()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
