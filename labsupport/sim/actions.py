"""Message operations of the model: send, receive, delete, change visibility.

Each method takes the request's JSON parameters and returns the response's
JSON members, or raises :class:`~labsupport.sim.errors.SqsError`. They run
with the model's lock held (see :meth:`SimModel.call`).
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter
from typing import Any

from labsupport.clock import Clock, VirtualClock
from labsupport.sim.checks import (
    check_entry,
    check_fifo_dedup,
    int_param,
    total_size,
)
from labsupport.sim.errors import SqsError, batch_errors, invalid_parameter
from labsupport.sim.messages import (
    INFLIGHT,
    IdMaker,
    Message,
    attributes_md5,
    body_md5,
    parse_receipt,
)
from labsupport.sim.params import SimParams
from labsupport.sim.queues import Queue
from labsupport.sim.store import server_sample

__all__ = ["MAX_INFLIGHT", "MessageActions"]

MAX_INFLIGHT = 120_000  # in-flight messages per queue
MAX_VISIBILITY_S = 43_200
SENDER_ID = "AIDASIMULATEDSENDER1"
_BATCH_FAULTS = ("InternalError", "ServiceUnavailable")


class MessageActions:
    """Message operations; mixed into :class:`~labsupport.sim.model.SimModel`."""

    params: SimParams
    clock: Clock
    realtime: bool
    counters: Counter[str]
    ids: IdMaker
    rng_timing: random.Random
    rng_layout: random.Random
    rng_faults: random.Random
    server_weights: list[float]
    _cond: threading.Condition
    _layouts: dict[tuple[int, ...], tuple[int, ...]]

    def queue_for(self, params: dict[str, Any]) -> Queue:
        raise NotImplementedError

    def queue_by_arn(self, arn: str) -> Queue | None:
        raise NotImplementedError

    def retention(self, queue: Queue) -> float:
        raise NotImplementedError

    def lognormal(self, median_ms: float, sigma: float) -> float:
        raise NotImplementedError

    def next_sequence_number(self) -> str:
        raise NotImplementedError

    # -- send -------------------------------------------------------------------

    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        return self._send_one(queue, params, self.clock.now())

    def send_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        entries = list(params.get("Entries") or [])
        batch_errors("SendMessage", [e.get("Id") for e in entries])
        size = sum(total_size(e) for e in entries)
        if size > 1_048_576:
            raise SqsError(
                "BatchRequestTooLong",
                "Batch requests cannot be longer than 1048576 bytes. You have "
                f"sent {size} bytes.",
            )
        now = self.clock.now()
        done: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                self._entry_fault("SendMessage")
                result = self._send_one(queue, entry, now)
            except SqsError as err:
                failed.append(_failure(entry["Id"], err))
                continue
            done.append({"Id": entry["Id"], **result})
        return {"Successful": done, "Failed": failed}

    def _send_one(
        self, queue: Queue, entry: dict[str, Any], now: float
    ) -> dict[str, Any]:
        body = entry.get("MessageBody")
        attrs = entry.get("MessageAttributes") or None
        system = entry.get("MessageSystemAttributes") or None
        max_size = queue.number("MaximumMessageSize")
        size = check_entry(entry, queue.fifo, max_size)
        assert isinstance(body, str)
        delay = int_param(entry, "DelaySeconds", 0, 900, queue.number("DelaySeconds"))
        out: dict[str, Any] = {"MD5OfMessageBody": body_md5(body)}
        if attrs:
            out["MD5OfMessageAttributes"] = attributes_md5(attrs)
        if system:
            out["MD5OfMessageSystemAttributes"] = attributes_md5(system)

        dedup_key = None
        if queue.fifo:
            dedup_key = self._dedup_key(queue, entry, body)
            earlier = queue.seen_before(dedup_key, now)
            if earlier is not None:
                self.counters["dedup_hits"] += 1
                out["MessageId"], out["SequenceNumber"] = earlier
                return out

        msg = self._new_message(queue, body, now, delay)
        msg.size = size
        msg.attributes = attrs
        msg.md5_attributes = out.get("MD5OfMessageAttributes")
        msg.system_attributes = system
        msg.group_id = entry.get("MessageGroupId")
        out["MessageId"] = msg.message_id
        if queue.fifo and dedup_key is not None:
            msg.dedup_id = entry.get("MessageDeduplicationId") or dedup_key
            msg.sequence_number = self.next_sequence_number()
            out["SequenceNumber"] = msg.sequence_number
            queue.remember(dedup_key, now, msg.message_id, msg.sequence_number)
        queue.store.add(msg, delayed=delay > 0)
        self.counters["sent"] += 1
        self._cond.notify_all()
        return out

    def _new_message(self, queue: Queue, body: str, now: float, delay: int) -> Message:
        propagation = self.lognormal(
            self.params.propagation_median_ms, self.params.propagation_sigma
        )
        msg = Message(
            queue.next_serial,
            self.ids.message_id(),
            body,
            now,
            now + delay + propagation,
        )
        queue.next_serial += 1
        if not queue.fifo:
            msg.servers = self._layout()
        return msg

    def _layout(self) -> tuple[int, ...]:
        """The servers a new standard message is stored on (shared tuples)."""
        servers = self.params.servers
        chosen = tuple(
            sorted(self.rng_layout.sample(range(servers), self.params.replicas))
        )
        return self._layouts.setdefault(chosen, chosen)

    def _dedup_key(self, queue: Queue, entry: dict[str, Any], body: str) -> str:
        check_fifo_dedup(entry, queue.attributes["ContentBasedDeduplication"] == "true")
        dedup = entry.get("MessageDeduplicationId")
        if not dedup:
            dedup = hashlib.sha256(body.encode("utf-8")).hexdigest()
        if queue.attributes.get("DeduplicationScope") == "messageGroup":
            return f"{entry.get('MessageGroupId')}\x00{dedup}"
        return str(dedup)

    # -- receive -------------------------------------------------------------------

    def receive_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        max_count = int_param(params, "MaxNumberOfMessages", 1, 10, 1, "between")
        default_wait = queue.number("ReceiveMessageWaitTimeSeconds")
        wait = int_param(params, "WaitTimeSeconds", 0, 20, default_wait)
        default_vt = queue.number("VisibilityTimeout")
        visibility = int_param(
            params, "VisibilityTimeout", 0, MAX_VISIBILITY_S, default_vt
        )
        attempt = params.get("ReceiveRequestAttemptId")
        if attempt is not None and not re.fullmatch(r"[!-~]{1,128}", str(attempt)):
            raise invalid_parameter(
                f"Value {attempt} for parameter ReceiveRequestAttemptId is invalid. "
                "Reason: 1 to 128 alphanumeric or punctuation characters."
            )
        names = set(params.get("AttributeNames") or [])
        names |= set(params.get("MessageSystemAttributeNames") or [])
        wanted = list(params.get("MessageAttributeNames") or [])

        got = self._wait_and_take(queue, max_count, wait, visibility)
        now = self.clock.now()
        self.counters["delivered"] += len(got)
        self.counters["receives"] += 1
        if not got:
            self.counters["empty_receives"] += 1
            return {}
        self.counters["redeliveries"] += sum(1 for m in got if m.receive_count > 1)
        return {"Messages": [self._describe(queue, m, names, wanted, now) for m in got]}

    def _wait_and_take(
        self, queue: Queue, max_count: int, wait: int, visibility: int
    ) -> list[Message]:
        store = queue.store
        deadline = self.clock.now() + wait
        while True:
            now = self.clock.now()
            store.refresh(now, self.retention(queue))
            if store.n_inflight >= MAX_INFLIGHT and not queue.fifo:
                raise SqsError(
                    "OverLimit",
                    f"Too many messages in flight: the limit is {MAX_INFLIGHT:,} "
                    f"per queue and {store.n_inflight:,} are. Delete messages "
                    "or let their visibility timeout end.",
                )
            servers = None
            if wait == 0 and not queue.fifo:
                servers = server_sample(
                    self.rng_layout, self.server_weights, self.params.short_poll_sample
                )
            got = store.take(
                now, max_count, visibility, lambda m: self._keep(queue, m), servers
            )
            if got:
                return got
            if wait == 0:
                if store.has_visible(now):
                    self.counters["false_empties"] += 1
                return got
            upcoming = store.next_visible()
            if now >= deadline:
                return got
            if self.realtime:
                until = deadline if upcoming is None else min(deadline, upcoming)
                self._cond.wait(max(until - now, 0.001))
            elif isinstance(self.clock, VirtualClock):
                if upcoming is None or upcoming > deadline:
                    self.clock.advance_to(deadline)
                    return got
                self.clock.advance_to(max(upcoming, now))

    def _keep(self, queue: Queue, msg: Message) -> bool:
        """False if the message moves to the dead-letter queue instead."""
        if queue.redrive is None or msg.receive_count < queue.redrive[1]:
            return True
        target = self.queue_by_arn(queue.redrive[0])
        if target is None:
            return True
        queue.store.remove(msg)
        copy = Message(
            target.next_serial, msg.message_id, msg.body, msg.sent_at, self.clock.now()
        )
        target.next_serial += 1
        for slot in ("attributes", "md5_attributes", "system_attributes", "size"):
            setattr(copy, slot, getattr(msg, slot))
        copy.group_id, copy.dedup_id = msg.group_id, msg.dedup_id
        copy.sequence_number = msg.sequence_number
        copy.source_arn = queue.arn
        if not target.fifo:
            copy.servers = self._layout()
        target.store.add(copy, delayed=False)
        self.counters["dlq_moves"] += 1
        return False

    def _describe(
        self,
        queue: Queue,
        msg: Message,
        names: set[str],
        wanted: list[str],
        now: float,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "MessageId": msg.message_id,
            "ReceiptHandle": self.ids.receipt(queue.key, msg.serial, msg.nonce),
            "MD5OfBody": body_md5(msg.body),
            "Body": msg.body,
        }
        if names:
            out["Attributes"] = _system_attributes(msg, names)
        if wanted and msg.attributes:
            chosen = _select(msg.attributes, wanted)
            if chosen:
                out["MessageAttributes"] = chosen
                same = len(chosen) == len(msg.attributes)
                out["MD5OfMessageAttributes"] = (
                    msg.md5_attributes if same else attributes_md5(chosen)
                )
        return out

    # -- delete and visibility ------------------------------------------------------

    def delete_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        self._delete(queue, params.get("ReceiptHandle"))
        return {}

    def delete_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        return self._batch(
            "DeleteMessage",
            params,
            lambda e: self._delete(queue, e.get("ReceiptHandle")),
        )

    def change_message_visibility(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        self._change_visibility(queue, params)
        return {}

    def change_message_visibility_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        return self._batch(
            "ChangeMessageVisibility",
            params,
            lambda e: self._change_visibility(queue, e),
        )

    def _batch(self, kind: str, params: dict[str, Any], act: Any) -> dict[str, Any]:
        entries = list(params.get("Entries") or [])
        batch_errors(kind, [e.get("Id") for e in entries])
        done: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                self._entry_fault(kind)
                act(entry)
            except SqsError as err:
                failed.append(_failure(entry["Id"], err))
                continue
            done.append({"Id": entry["Id"]})
        return {"Successful": done, "Failed": failed}

    def _message_for(self, queue: Queue, handle: Any) -> tuple[Message | None, int]:
        """The message a receipt handle names (None if deleted) and its nonce."""
        if not handle:
            raise SqsError(
                "MissingParameter",
                "The request must contain the parameter ReceiptHandle.",
            )
        parsed = parse_receipt(handle)
        if parsed is None or parsed[0] != queue.key or parsed[1] >= queue.next_serial:
            raise SqsError(
                "ReceiptHandleIsInvalid",
                f'The input receipt handle "{handle}" is not a valid receipt handle.',
            )
        return queue.store.by_serial.get(parsed[1]), parsed[2]

    def _delete(self, queue: Queue, handle: Any) -> None:
        msg, nonce = self._message_for(queue, handle)
        if msg is None:
            return  # already deleted: the service answers success
        if nonce != msg.nonce:
            # Documented: deleting with an old receipt handle (the message was
            # received again since) succeeds but may not delete the message.
            self.counters["outdated_deletes"] += 1
            return
        rate = self.params.delete_miss_rate
        if not queue.fifo and rate and self.rng_faults.random() < rate:
            # A replica missed the delete: the message stays and comes back
            # when its visibility timeout ends (at-least-once delivery).
            self.counters["delete_misses"] += 1
            return
        queue.store.remove(msg)
        self.counters["deleted"] += 1

    def _change_visibility(self, queue: Queue, params: dict[str, Any]) -> None:
        if params.get("VisibilityTimeout") is None:
            raise SqsError(
                "MissingParameter",
                "The request must contain the parameter VisibilityTimeout.",
            )
        timeout = int_param(params, "VisibilityTimeout", 0, MAX_VISIBILITY_S, 0)
        msg, nonce = self._message_for(queue, params.get("ReceiptHandle"))
        now = self.clock.now()
        queue.store.refresh(now, self.retention(queue))
        if msg is None:
            raise invalid_parameter(
                "Value for parameter ReceiptHandle is invalid. Reason: Message does "
                "not exist or is not available for visibility timeout change."
            )
        if nonce != msg.nonce:
            raise invalid_parameter(
                "Value for parameter ReceiptHandle is invalid. Reason: The receipt "
                "handle has expired (the message was received again since)."
            )
        if msg.state != INFLIGHT:
            raise SqsError(
                "MessageNotInflight",
                "The message is not in flight: its visibility timeout has ended.",
            )
        if now + timeout - msg.received_at > MAX_VISIBILITY_S:
            raise invalid_parameter(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: "
                f"Total VisibilityTimeout for the message is beyond the limit "
                f"[{MAX_VISIBILITY_S} seconds]."
            )
        queue.store.set_visible_at(msg, now + timeout)
        self._cond.notify_all()

    def _entry_fault(self, kind: str) -> None:
        rate = self.params.batch_entry_failure_rate
        if rate and self.rng_faults.random() < rate:
            code = _BATCH_FAULTS[self.rng_faults.random() < 0.5]
            self.counters["faults.batch_entry"] += 1
            raise SqsError(code, f"{kind} entry failed on the service side (injected).")


def _failure(entry_id: str, err: SqsError) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "SenderFault": err.sender_fault,
        "Code": err.code,
        "Message": err.message,
    }


def _system_attributes(msg: Message, names: set[str]) -> dict[str, str]:
    values: dict[str, str] = {
        "SenderId": SENDER_ID,
        "SentTimestamp": str(int(msg.sent_at * 1000)),
        "ApproximateReceiveCount": str(msg.receive_count),
        "ApproximateFirstReceiveTimestamp": str(
            int((msg.first_receive_at or 0) * 1000)
        ),
    }
    if msg.group_id is not None:
        values["MessageGroupId"] = msg.group_id
    if msg.dedup_id is not None:
        values["MessageDeduplicationId"] = msg.dedup_id
    if msg.sequence_number is not None:
        values["SequenceNumber"] = msg.sequence_number
    if msg.source_arn is not None:
        values["DeadLetterQueueSourceArn"] = msg.source_arn
    trace = (msg.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        values["AWSTraceHeader"] = str(trace.get("StringValue", ""))
    if "All" in names:
        return values
    return {k: v for k, v in values.items() if k in names}


def _select(attributes: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if "All" in wanted or ".*" in wanted:
        return dict(attributes)
    prefixes = [w[:-2] for w in wanted if w.endswith(".*")]
    return {
        name: value
        for name, value in attributes.items()
        if name in wanted or any(name.startswith(p + ".") for p in prefixes)
    }
