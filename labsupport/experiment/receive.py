"""Receiving again and again, and writing down every delivery and every poll.

A single receive call tells little: a short poll (``wait_time=0``) asks only
some of the servers that hold a queue, so it may come back empty while
messages wait. The :class:`Receiver` therefore never takes one empty answer
to mean the queue is empty; :func:`receive_repeatedly` stops on what the
caller asks for: an expected number of distinct messages, a number of empty
polls in a row, or a time budget on the connection's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
from botocore.exceptions import ReadTimeoutError

from labsupport.backends.connection import Connection
from labsupport.errors import InvalidParameter
from labsupport.experiment.records import DELIVERY_COLUMNS, POLL_COLUMNS
from labsupport.experiment.send import RUN_ATTR, SENT_ATTR, SEQ_ATTR
from labsupport.limits import (
    check_count,
    check_max_messages,
    check_visibility_timeout,
    check_wait_time,
)

__all__ = ["ReceiveResult", "Receiver", "receive_repeatedly"]

logger = logging.getLogger(__name__)

SHORT_POLL_PAUSE_S = 0.2
DELETE_ATTEMPTS = 3


@dataclass
class ReceiveResult:
    """The deliveries and polls tables of a receiving run."""

    deliveries: pd.DataFrame
    polls: pd.DataFrame
    stopped_because: str


class Receiver:
    """Makes receive calls on one queue and records what each returned.

    Args:
        wait_time: WaitTimeSeconds, 0 (short polling) to 20 (long polling).
        max_messages: MaxNumberOfMessages, 1 to 10.
        visibility_timeout: seconds a received message stays hidden; None
            keeps the queue's own setting.
        delete: delete each message after receiving it. With False the
            messages come back once their visibility timeout ends, which is
            how redelivery is shown.
        run_id: only messages of this run count as the run's (others are
            recorded with seq -1).
    """

    def __init__(
        self,
        conn: Connection,
        queue_url: str,
        *,
        wait_time: int = 20,
        max_messages: int = 10,
        visibility_timeout: int | None = None,
        delete: bool = True,
        run_id: str | None = None,
    ) -> None:
        self.conn = conn
        self.queue_url = queue_url
        self.wait_time = check_wait_time(wait_time)
        self.max_messages = check_max_messages(max_messages)
        self.visibility_timeout = (
            None
            if visibility_timeout is None
            else check_visibility_timeout(visibility_timeout)
        )
        self.delete = delete
        self.run_id = run_id or conn.run_id
        self.seen: set[int] = set()
        self._deliveries: list[dict[str, Any]] = []
        self._polls: list[dict[str, Any]] = []

    def poll(self, wait_time: int | None = None) -> list[dict[str, Any]]:
        """One receive call (and the deletes); return its delivery rows.

        ``wait_time`` overrides the receiver's WaitTimeSeconds for this call.
        """
        wait = self.wait_time if wait_time is None else check_wait_time(wait_time)
        start = self.conn.clock.now()
        messages = self._receive(wait)
        end = self.conn.clock.now()
        poll_no = len(self._polls)
        rows = [self._row(msg, poll_no, pos, end) for pos, msg in enumerate(messages)]
        if self.delete and messages:
            self._delete(messages, rows)
        self._polls.append(
            {
                "poll": poll_no,
                "start_time": start,
                "end_time": end,
                "wait_time_s": wait,
                "max_messages": self.max_messages,
                "returned": len(messages),
                "empty": not messages,
            }
        )
        self._deliveries.extend(rows)
        self.seen.update(r["seq"] for r in rows if r["seq"] >= 0)
        return rows

    def _receive(self, wait_time: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.max_messages,
            "WaitTimeSeconds": wait_time,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self.visibility_timeout
        try:
            response = self.conn.client.receive_message(**kwargs)
        except ReadTimeoutError:
            # Messages the lost answer carried stay hidden until their
            # visibility timeout ends, then come back: nothing is lost.
            logger.info("receive call timed out; counted as an empty poll")
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _row(
        self, msg: dict[str, Any], poll_no: int, pos: int, when: float
    ) -> dict[str, Any]:
        attrs = msg.get("MessageAttributes", {})
        ours = attrs.get(RUN_ATTR, {}).get("StringValue") == self.run_id
        seq = int(attrs[SEQ_ATTR]["StringValue"]) if ours else -1
        sent = float(attrs[SENT_ATTR]["StringValue"]) if ours else None
        return {
            "seq": seq,
            "message_id": msg["MessageId"],
            "receive_count": int(
                msg.get("Attributes", {}).get("ApproximateReceiveCount", 0)
            ),
            "receive_time": when,
            "poll": poll_no,
            "position": pos,
            "latency_ms": None if sent is None else (when - sent) * 1000.0,
            "deleted": False,
        }

    def _delete(
        self, messages: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> None:
        """Delete the messages; retry entries that failed through no fault of ours.

        A delete that still fails leaves the row's ``deleted`` False: the
        message comes back after its visibility timeout.
        """
        pending = {str(i): m["ReceiptHandle"] for i, m in enumerate(messages)}
        for _ in range(DELETE_ATTEMPTS):
            entries = [{"Id": i, "ReceiptHandle": h} for i, h in pending.items()]
            try:
                response = self.conn.client.delete_message_batch(
                    QueueUrl=self.queue_url, Entries=entries
                )
            except ReadTimeoutError:
                continue  # deleting twice is harmless: try the same again
            for ok in response.get("Successful", []):
                rows[int(ok["Id"])]["deleted"] = True
                pending.pop(ok["Id"], None)
            for bad in response.get("Failed", []):
                if bad.get("SenderFault", False):
                    pending.pop(bad["Id"], None)
            if not pending:
                return
        logger.info("%s deletes failed; those messages will come back", len(pending))

    def result(self, stopped_because: str = "") -> ReceiveResult:
        """The deliveries and polls tables so far."""
        return ReceiveResult(
            deliveries=pd.DataFrame(self._deliveries, columns=DELIVERY_COLUMNS),
            polls=pd.DataFrame(self._polls, columns=POLL_COLUMNS),
            stopped_because=stopped_because,
        )


class StopRule:
    """When a receiving run ends; all times are on the connection's clock.

    Args:
        expected: distinct messages of the run to wait for (None: unknown).
        max_empty_polls: stop after this many empty polls in a row.
        time_budget_s: stop once this many seconds have passed.
        settle_s: once ``expected`` is reached, keep polling this long so
            late copies (duplicates) are seen too.
    """

    def __init__(
        self,
        start: float,
        expected: int | None,
        max_empty_polls: int,
        time_budget_s: float,
        settle_s: float,
    ) -> None:
        self.start = start
        self.expected = expected
        self.max_empty_polls = max_empty_polls
        self.time_budget_s = time_budget_s
        self.settle_s = settle_s
        self.empty_in_row = 0
        self.complete_at: float | None = None

    def observe(self, returned: int) -> None:
        """Take one poll's outcome: how many messages it returned."""
        self.empty_in_row = 0 if returned else self.empty_in_row + 1

    def check(self, now: float, seen: int) -> str:
        """Why to stop now, having seen ``seen`` distinct messages; "" to go on."""
        if self.expected is not None and seen >= self.expected:
            if self.complete_at is None:
                self.complete_at = now
            if now - self.complete_at >= self.settle_s:
                return "all expected messages received"
        if self.empty_in_row >= self.max_empty_polls:
            return f"{self.empty_in_row} empty polls in a row"
        if now - self.start >= self.time_budget_s:
            return f"time budget of {self.time_budget_s:g} s used"
        return ""


def default_settle(conn: Connection, visibility_timeout: int | None) -> float:
    """How long to keep polling after everything arrived, in seconds.

    On a virtual clock waiting costs nothing, so the run waits out one
    visibility timeout (30 s if unknown) and a bit more, which lets copies
    whose delete missed, or whose timeout ran out, come back and be counted.
    On a wall clock it stops at once.
    """
    if getattr(conn.clock, "virtual", False):
        return float(visibility_timeout if visibility_timeout is not None else 30) + 5
    return 0.0


def receive_repeatedly(
    conn: Connection,
    queue_url: str,
    *,
    expected: int | None = None,
    wait_time: int = 20,
    max_messages: int = 10,
    visibility_timeout: int | None = None,
    delete: bool = True,
    max_empty_polls: int | None = None,
    time_budget_s: float = 120.0,
    settle_s: float | None = None,
    run_id: str | None = None,
) -> ReceiveResult:
    """Receive until a stop rule says enough; record every delivery and poll.

    Stops when ``expected`` distinct messages of the run have arrived (and
    ``settle_s`` more seconds passed), after ``max_empty_polls`` empty polls
    in a row (default 3 with long polling, 20 with short polling), or when
    ``time_budget_s`` seconds have passed on the connection's clock. Short
    polls that come back empty are followed by a 0.2 s pause, as a real
    consumer would take.
    """
    if max_empty_polls is not None:
        check_count(max_empty_polls, "max_empty_polls")
    if not time_budget_s > 0:
        raise InvalidParameter("time budget", "more than 0 seconds", time_budget_s)
    receiver = Receiver(
        conn,
        queue_url,
        wait_time=wait_time,
        max_messages=max_messages,
        visibility_timeout=visibility_timeout,
        delete=delete,
        run_id=run_id,
    )
    rule = StopRule(
        conn.clock.now(),
        expected,
        max_empty_polls or (3 if wait_time else 20),
        time_budget_s,
        default_settle(conn, visibility_timeout) if settle_s is None else settle_s,
    )
    while True:
        rows = receiver.poll()
        if not rows and wait_time == 0:
            conn.clock.sleep(SHORT_POLL_PAUSE_S)
        rule.observe(len(rows))
        reason = rule.check(conn.clock.now(), len(receiver.seen))
        if reason:
            logger.info("stopped receiving: %s", reason)
            return receiver.result(reason)
