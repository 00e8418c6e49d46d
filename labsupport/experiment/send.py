"""Sending messages in batches, with every message accounted for.

Each message carries three message attributes the receiving side reads back:
``lab.run`` (the run id), ``lab.seq`` (its sequence number) and ``lab.sent``
(the clock time before its batch call, in seconds). The body is free for
the lab's own content.

A SendMessageBatch call can succeed for some entries and fail for others;
that is the normal case, not an exception. Entries that failed through no
fault of the sender (``SenderFault`` false: throttling, internal errors) are
sent again after a jittered back-off; the others are reported with their
error code. The sends table says, for every message, whether SQS took it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError, ReadTimeoutError

from labsupport.backends.connection import Connection
from labsupport.errors import InvalidParameter, LimitError
from labsupport.experiment.records import SEND_COLUMNS
from labsupport.limits import (
    BATCH_MAX_BYTES,
    MAX_MESSAGE_BYTES,
    check_batch_size,
    check_body,
    check_count,
    check_delay,
    check_group_id,
    message_size,
)

__all__ = ["SendResult", "Sender", "send_batches", "stamp_attributes"]

logger = logging.getLogger(__name__)

RUN_ATTR = "lab.run"
SEQ_ATTR = "lab.seq"
SENT_ATTR = "lab.sent"
# Whole-call errors worth another try; anything else stops the sending.
RETRYABLE_CODES = frozenset(
    {
        "RequestThrottled",
        "ThrottlingException",
        "Throttling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KmsThrottled",
    }
)


def stamp_attributes(run_id: str, seq: int, sent: float) -> dict[str, Any]:
    """The message attributes that identify a message of a lab run."""
    return {
        RUN_ATTR: {"DataType": "String", "StringValue": run_id},
        SEQ_ATTR: {"DataType": "Number", "StringValue": str(seq)},
        SENT_ATTR: {"DataType": "Number", "StringValue": f"{sent:.6f}"},
    }


@dataclass
class _Message:
    seq: int
    body: str
    size: int
    group_id: str | None
    delay_s: int = 0
    entry_id: str = ""
    message_id: str | None = None
    send_time: float | None = None
    attempts: int = 0
    error_code: str | None = None


@dataclass
class SendResult:
    """What a send did: the sends table and the messages SQS did not take."""

    sends: pd.DataFrame
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """How many messages SQS accepted."""
        return int(self.sends["sent"].sum())


class Sender:
    """Sends a run's messages one batch at a time; see :func:`send_batches`.

    Everything is checked when the sender is made, before anything is sent:
    the batch size, every body against the queue's MaximumMessageSize and the
    characters SQS accepts. Use :meth:`send_next` to interleave sending with
    receiving, or :func:`send_batches` to send everything.
    """

    def __init__(
        self,
        conn: Connection,
        queue_url: str,
        bodies: Sequence[str],
        *,
        run_id: str | None = None,
        batch_size: int = 10,
        group_ids: Sequence[str] | None = None,
        delays: Sequence[int] | None = None,
        max_attempts: int = 5,
        seed: int | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self.conn = conn
        self.queue_url = queue_url
        self.run_id = run_id or conn.run_id
        self.batch_size = check_batch_size(batch_size)
        self.fifo = queue_url.rstrip("/").endswith(".fifo")
        self.max_attempts = check_count(max_attempts, "max_attempts")
        self._rng = random.Random(seed)
        bodies = _check_bodies(bodies)
        groups = self._check_groups(group_ids, len(bodies))
        limit = max_message_size or self._queue_max_size()
        delay_list = self._check_delays(delays, len(bodies))
        self._messages = [
            _Message(
                seq, body, self._size(seq, body, limit), groups[seq], delay_list[seq]
            )
            for seq, body in enumerate(bodies)
        ]
        self._next = 0
        self._batches = 0
        self.accepted = 0  # messages SQS has taken so far

    def _queue_max_size(self) -> int:
        attrs = self.conn.client.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["MaximumMessageSize"]
        )["Attributes"]
        return int(attrs.get("MaximumMessageSize", MAX_MESSAGE_BYTES))

    def _check_groups(
        self, group_ids: Sequence[str] | None, count: int
    ) -> list[str | None]:
        if group_ids is None:
            return ["0" if self.fifo else None] * count
        if not self.fifo:
            raise InvalidParameter(
                "group_ids",
                "given for FIFO queues only",
                "a standard queue",
                "Message groups order messages on FIFO queues.",
            )
        return [check_group_id(g) for g in _one_each("group_ids", group_ids, count)]

    def _check_delays(self, delays: Sequence[int] | None, count: int) -> list[int]:
        if delays is None:
            return [0] * count
        if self.fifo:
            raise InvalidParameter(
                "delays",
                "given for standard queues only",
                "a FIFO queue",
                "FIFO queues take DelaySeconds per queue, not per message.",
            )
        return [check_delay(d) for d in _one_each("delays", delays, count)]

    def _size(self, seq: int, body: str, limit: int) -> int:
        stamp = stamp_attributes(self.run_id, 10**9, 2.0e9)  # widest stamp
        try:
            return check_body(body, stamp, max_size=limit)
        except LimitError as err:
            err.args = (
                f"{err.args[0]} (message {seq}; the kit's lab.* "
                f"attributes add {message_size('', stamp)} bytes)",
            )
            raise

    @property
    def done(self) -> bool:
        """True once every message was sent or given up on."""
        return self._next >= len(self._messages)

    @property
    def total(self) -> int:
        """How many messages this sender has to send."""
        return len(self._messages)

    def send_next(self) -> int:
        """Send the next batch (retrying failed entries); return its size."""
        batch = self._take_batch()
        if not batch:
            return 0
        self.conn.reserve_messages(len(batch))
        try:
            self._send_with_retries(batch)
        finally:
            self.conn.release_messages(sum(1 for m in batch if m.message_id is None))
        return len(batch)

    def _send_with_retries(self, batch: list[_Message]) -> None:
        pending = batch
        while pending:
            pending = self._attempt(pending)
            if pending and pending[0].attempts >= self.max_attempts:
                for msg in pending:
                    logger.warning(
                        "giving up on message %s after %s attempts: %s",
                        msg.seq,
                        msg.attempts,
                        msg.error_code,
                    )
                return
            if pending:
                self.conn.clock.sleep(self._backoff(pending[0].attempts))

    def _take_batch(self) -> list[_Message]:
        batch: list[_Message] = []
        total = 0
        while self._next < len(self._messages) and len(batch) < self.batch_size:
            msg = self._messages[self._next]
            if batch and total + msg.size > BATCH_MAX_BYTES:
                break
            batch.append(msg)
            total += msg.size
            self._next += 1
        return batch

    def _attempt(self, batch: list[_Message]) -> list[_Message]:
        """One SendMessageBatch call; return the entries worth another try."""
        now = self.conn.clock.now()
        entries = []
        for i, msg in enumerate(batch):
            msg.entry_id = f"b{self._batches}-{i}"
            msg.send_time = now
            msg.attempts += 1
            entries.append(self._entry(msg))
        self._batches += 1
        by_id = {msg.entry_id: msg for msg in batch}
        try:
            response = self.conn.client.send_message_batch(
                QueueUrl=self.queue_url, Entries=entries
            )
        except ReadTimeoutError:
            # The outcome is unknown: SQS may have stored the batch. Sending it
            # again is the only way not to lose it, and may make duplicates,
            # which the receiving side then counts.
            for msg in batch:
                msg.error_code = "ReadTimeout"
            logger.info("batch call timed out; will send it again")
            return batch
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "Unknown")
            for msg in batch:
                msg.error_code = code
            if code in RETRYABLE_CODES:
                logger.info("batch call failed with %s; will retry", code)
                return batch
            raise
        for ok in response.get("Successful", []):
            msg = by_id[ok["Id"]]
            msg.message_id, msg.error_code = ok["MessageId"], None
            self.accepted += 1
        retry = []
        for bad in response.get("Failed", []):
            msg = by_id[bad["Id"]]
            msg.error_code = bad.get("Code", "Unknown")
            if not bad.get("SenderFault", False):
                retry.append(msg)
            else:
                logger.warning("message %s refused: %s", msg.seq, bad.get("Message"))
        return retry

    def _entry(self, msg: _Message) -> dict[str, Any]:
        assert msg.send_time is not None
        entry: dict[str, Any] = {
            "Id": msg.entry_id,
            "MessageBody": msg.body,
            "MessageAttributes": stamp_attributes(self.run_id, msg.seq, msg.send_time),
        }
        if self.fifo:
            entry["MessageGroupId"] = msg.group_id
            entry["MessageDeduplicationId"] = f"{self.run_id}-{msg.seq}"
        if msg.delay_s:
            entry["DelaySeconds"] = msg.delay_s
        return entry

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential back-off in seconds: up to 0.05 * 2**attempt."""
        return self._rng.uniform(0, min(2.0, 0.05 * 2**attempt))

    def result(self) -> SendResult:
        """The sends table so far, and the messages SQS did not take."""
        rows = [
            {
                "seq": m.seq,
                "entry_id": m.entry_id,
                "message_id": m.message_id,
                "sent": m.message_id is not None,
                "send_time": m.send_time,
                "body_bytes": len(m.body.encode("utf-8")),
                "attempts": m.attempts,
                "error_code": None if m.message_id else m.error_code,
                "group_id": m.group_id,
                "delay_s": m.delay_s,
            }
            for m in self._messages
        ]
        sends = pd.DataFrame(rows, columns=SEND_COLUMNS)
        failed = [r for r in rows if r["attempts"] and not r["sent"]]
        return SendResult(sends=sends, failed=failed)


def _one_each(rule: str, values: Sequence[Any], count: int) -> Sequence[Any]:
    """``values`` if it is a list of exactly one value per message."""
    if isinstance(values, str) or len(values) != count:
        raise InvalidParameter(
            rule,
            f"one value per message ({count})",
            "a string" if isinstance(values, str) else len(values),
        )
    return values


def _check_bodies(bodies: Sequence[str]) -> Sequence[str]:
    if isinstance(bodies, str | bytes) or not isinstance(bodies, Sequence):
        raise InvalidParameter(
            "bodies",
            "a list of message bodies (strings)",
            type(bodies).__name__,
            "To send one message, pass [body].",
        )
    check_count(len(bodies), "number of messages to send")
    return bodies


def make_bodies(count: int, payload_bytes: int = 100, run_id: str = "run") -> list[str]:
    """``count`` distinct bodies of exactly ``payload_bytes`` bytes each."""
    check_count(count)
    if payload_bytes < 1 or payload_bytes > MAX_MESSAGE_BYTES:
        raise InvalidParameter(
            "payload size (bytes)", f"1 to {MAX_MESSAGE_BYTES:,}", payload_bytes
        )
    bodies = []
    for seq in range(count):
        head = f"{run_id}:{seq}:"
        bodies.append((head + "x" * payload_bytes)[:payload_bytes])
    return bodies


def send_batches(
    conn: Connection,
    queue_url: str,
    bodies: Sequence[str],
    *,
    batch_size: int = 10,
    group_ids: Sequence[str] | None = None,
    delays: Sequence[int] | None = None,
    max_attempts: int = 5,
    seed: int | None = None,
) -> SendResult:
    """Send ``bodies`` in batches of ``batch_size`` and account for each one.

    On a FIFO queue every message goes to group ``"0"`` unless
    ``group_ids`` gives one per message; deduplication ids are
    ``<run id>-<seq>``. ``delays`` gives each message of a standard queue
    its own DelaySeconds (0 to 900): a way to make messages become
    receivable over time, as a trickle of traffic would. Returns a
    :class:`SendResult` whose ``sends`` table has one row per body and whose
    ``failed`` list names the ones SQS did not accept and why.
    """
    sender = Sender(
        conn,
        queue_url,
        bodies,
        batch_size=batch_size,
        group_ids=group_ids,
        delays=delays,
        max_attempts=max_attempts,
        seed=seed,
    )
    while not sender.done:
        sender.send_next()
    result = sender.result()
    logger.info("sent %s of %s messages", result.sent, len(bodies))
    return result
