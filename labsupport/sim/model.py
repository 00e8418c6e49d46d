"""The seeded model of SQS: queues, the clock, request timing and counters.

:class:`SimModel` answers SQS operations given as (operation name, JSON
parameters), the way the service would, and keeps its own clock. Queue-level
operations live here; message operations in :mod:`labsupport.sim.actions`.

Time: on a :class:`~labsupport.clock.VirtualClock` every request moves the
clock by a drawn round trip (half before the service acts, half after) and a
long poll on an empty queue moves it to the moment a message becomes
receivable, or to the end of the wait. In real-time mode (``realtime=True``,
used by :class:`~labsupport.sim.server.SimServer`) the clock is the wall
clock, round trips are the real network's, and a long poll really waits,
without holding the model's lock.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from labsupport.clock import Clock, VirtualClock, WallClock
from labsupport.sim.actions import MessageActions
from labsupport.sim.errors import (
    SqsError,
    invalid_parameter,
    missing_parameter,
    queue_does_not_exist,
)
from labsupport.sim.messages import IdMaker
from labsupport.sim.params import SimParams, make_params
from labsupport.sim.queues import (
    PURGE_INTERVAL_S,
    Queue,
    check_attributes,
    check_name,
)

__all__ = ["OPERATIONS", "SimModel"]

logger = logging.getLogger(__name__)

QUEUE_DELETE_WAIT_S = 60.0  # a deleted queue's name is free again after 60 s
MAX_TAGS = 50
RESERVED_TAG_PREFIX = "aws:"

# Operation name -> SimModel method. Anything else is not part of the model.
OPERATIONS: dict[str, str] = {
    "CreateQueue": "create_queue",
    "GetQueueUrl": "get_queue_url",
    "ListQueues": "list_queues",
    "DeleteQueue": "delete_queue",
    "GetQueueAttributes": "get_queue_attributes",
    "SetQueueAttributes": "set_queue_attributes",
    "PurgeQueue": "purge_queue",
    "SendMessage": "send_message",
    "SendMessageBatch": "send_message_batch",
    "ReceiveMessage": "receive_message",
    "DeleteMessage": "delete_message",
    "DeleteMessageBatch": "delete_message_batch",
    "ChangeMessageVisibility": "change_message_visibility",
    "ChangeMessageVisibilityBatch": "change_message_visibility_batch",
    "TagQueue": "tag_queue",
    "UntagQueue": "untag_queue",
    "ListQueueTags": "list_queue_tags",
    "ListDeadLetterSourceQueues": "list_dead_letter_source_queues",
}


class SimModel(MessageActions):
    """A seeded, thread-safe model of SQS standard and FIFO queues.

    Same seed, same parameters and same calls give the same answers: message
    ids, receipt handles, timings and every random choice come from
    generators seeded from ``seed``.

    Args:
        seed: seeds every random draw.
        preset: "realistic" (default), "classroom" or "ideal".
        realtime: use the wall clock (for a server) instead of a virtual one.
        region: the region written into queue URLs and ARNs.
        **overrides: any :class:`SimParams` field by name.

    Attributes:
        clock: the model's clock (virtual unless ``realtime``).
        params: the parameters in force.
        counters: request and behaviour counters; see :meth:`stats`.

    Raises:
        SimConfigError: unknown preset or parameter name, or a bad value.
    """

    def __init__(
        self,
        seed: int = 0,
        preset: str = "realistic",
        realtime: bool = False,
        region: str = "us-east-1",
        **overrides: Any,
    ) -> None:
        self.params: SimParams = make_params(preset, **overrides)
        self.preset = preset
        self.seed = seed
        self.realtime = realtime
        self.region = region
        self.clock: Clock = WallClock() if realtime else VirtualClock()
        self.started = self.clock.now()
        self._cond = threading.Condition(threading.RLock())
        self.rng_timing = random.Random(f"{seed}:timing")
        self.rng_layout = random.Random(f"{seed}:layout")
        self.rng_faults = random.Random(f"{seed}:faults")
        self.ids = IdMaker(random.Random(f"{seed}:ids"))
        self.queues: dict[str, Queue] = {}
        self.by_key: dict[int, Queue] = {}
        self._deleted: dict[str, float] = {}
        self._next_key = 1
        self._sequence = 10**19 + random.Random(f"{seed}:seq").getrandbits(48)
        skew = self.params.server_weight_skew
        self.server_weights = [(i + 1) ** -skew for i in range(self.params.servers)]
        self.counters: Counter[str] = Counter()
        self._layouts: dict[tuple[int, ...], tuple[int, ...]] = {}

    # -- requests -----------------------------------------------------------------

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one request; raise :class:`SqsError` as the service would.

        Side effects: changes the queues, moves a virtual clock by the drawn
        round trip (and any long-poll wait), counts the request.
        """
        method = OPERATIONS.get(operation)
        if method is None:
            raise SqsError(
                "UnsupportedOperation",
                f"The operation {operation} is not part of the sim model; it "
                f"answers {', '.join(OPERATIONS)}.",
            )
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, method)
        with self._cond:
            self.counters["requests"] += 1
            self.counters[f"requests.{operation}"] += 1
            before, after = self._round_trip()
            self.advance(before)
            try:
                self.inject_request_fault(operation)
                return handler(params)
            finally:
                self.advance(after)

    def _round_trip(self) -> tuple[float, float]:
        if self.realtime or self.params.rtt_median_ms <= 0:
            return 0.0, 0.0
        rtt = self.lognormal(self.params.rtt_median_ms, self.params.rtt_sigma)
        return rtt / 2, rtt / 2

    def lognormal(self, median_ms: float, sigma: float) -> float:
        """A lognormal draw from the timing generator, in seconds."""
        if median_ms <= 0:
            return 0.0
        return median_ms / 1000.0 * math.exp(sigma * self.rng_timing.gauss(0.0, 1.0))

    def advance(self, seconds: float) -> None:
        """Move a virtual clock forward; nothing in real-time mode."""
        if seconds > 0 and isinstance(self.clock, VirtualClock):
            self.clock.advance(seconds)

    def inject_request_fault(self, operation: str) -> None:
        """Throttle or fail the request at the configured rates (faults)."""
        params = self.params
        if params.throttle_rate and self.rng_faults.random() < params.throttle_rate:
            self.counters["faults.throttled"] += 1
            raise SqsError(
                "RequestThrottled",
                f"Rate exceeded for {operation} (injected fault, throttle_rate="
                f"{params.throttle_rate}).",
            )
        rate = params.internal_error_rate
        if rate and self.rng_faults.random() < rate:
            shape = (
                "InternalError"
                if self.rng_faults.random() < 0.5
                else ("ServiceUnavailable")
            )
            self.counters[f"faults.{shape}"] += 1
            raise SqsError(
                shape, f"{shape} on {operation} (injected fault, rate={rate})."
            )

    def draw_timeout(self) -> str | None:
        """Whether the next request times out: None, "before" the service acts
        on it, or "after" (the answer is lost). Used by the in-process hook."""
        rate = self.params.timeout_rate
        if not rate:
            return None
        with self._cond:
            if self.rng_faults.random() >= rate:
                return None
            self.counters["faults.timeout"] += 1
            lost = self.rng_faults.random() < self.params.lost_answer_share
            return "after" if lost else "before"

    # -- lookups --------------------------------------------------------------------

    def queue_for(self, params: dict[str, Any]) -> Queue:
        """The queue named by the request's QueueUrl."""
        url = params.get("QueueUrl")
        if not url:
            raise missing_parameter("QueueUrl")
        if not isinstance(url, str) or "/" not in url:
            raise SqsError("InvalidAddress", f"The address {url!r} is not a queue URL.")
        queue = self.queues.get(url.rstrip("/").rsplit("/", 1)[-1])
        if queue is None:
            raise queue_does_not_exist()
        return queue

    def queue_by_arn(self, arn: str) -> Queue | None:
        """The queue with this ARN, if it exists."""
        queue = self.queues.get(arn.rsplit(":", 1)[-1])
        return queue if queue is not None and queue.arn == arn else None

    # -- queue operations -------------------------------------------------------------

    def create_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("QueueName")
        if not name:
            raise missing_parameter("QueueName")
        raw = dict(params.get("Attributes") or {})
        fifo = str(raw.get("FifoQueue", "false")).lower() == "true"
        check_name(name, fifo)
        attrs = check_attributes(raw, fifo, creating=True)
        now = self.clock.now()
        existing = self.queues.get(name)
        if existing is not None:
            for key, value in attrs.items():
                if existing.attributes.get(key, value) != value:
                    raise SqsError(
                        "QueueNameExists",
                        f"A queue already exists with the same name and a "
                        f"different value for attribute {key}.",
                    )
            return {"QueueUrl": existing.url}
        deleted = self._deleted.get(name)
        if deleted is not None and now - deleted < QUEUE_DELETE_WAIT_S:
            raise SqsError(
                "QueueDeletedRecently",
                f"You must wait {QUEUE_DELETE_WAIT_S:.0f} seconds after deleting "
                f"a queue before you can create another with the same name "
                f"({now - deleted:.1f} s have passed).",
            )
        self._check_redrive(attrs, fifo)
        queue = Queue(
            self._next_key, name, self.region, attrs, now, self.params.servers
        )
        self._next_key += 1
        self._add_tags(queue, params.get("tags") or {})
        self.queues[name] = queue
        self.by_key[queue.key] = queue
        logger.debug("sim: created queue %s", name)
        return {"QueueUrl": queue.url}

    def get_queue_url(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("QueueName")
        if not name:
            raise missing_parameter("QueueName")
        queue = self.queues.get(name)
        if queue is None:
            raise queue_does_not_exist()
        return {"QueueUrl": queue.url}

    def list_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("QueueNamePrefix") or ""
        names = sorted(n for n in self.queues if n.startswith(prefix))
        urls = [self.queues[n].url for n in names]
        return _paginate(urls, params, "QueueUrls")

    def delete_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        del self.queues[queue.name]
        del self.by_key[queue.key]
        self._deleted[queue.name] = self.clock.now()
        queue.store.purge()
        return {}

    def get_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        wanted = list(params.get("AttributeNames") or [])
        values = queue.attribute_values(self.clock.now(), self.retention(queue))
        if "All" in wanted:
            return {"Attributes": values}
        chosen: dict[str, str] = {}
        for name in wanted:
            if name not in values and not _known_attribute(name):
                raise SqsError("InvalidAttributeName", f"Unknown Attribute {name}.")
            if name in values:
                chosen[name] = values[name]
        return {"Attributes": chosen} if chosen else {}

    def set_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        raw = params.get("Attributes")
        if raw is None:
            raise missing_parameter("Attributes")
        attrs = check_attributes(dict(raw), queue.fifo, creating=False)
        if attrs.get("RedrivePolicy"):
            self._check_redrive(attrs, queue.fifo)
        queue.set_attributes(attrs, self.clock.now())
        return {}

    def purge_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        now = self.clock.now()
        if now - queue.last_purge < PURGE_INTERVAL_S:
            raise SqsError(
                "PurgeQueueInProgress",
                f"Only one PurgeQueue operation on {queue.name} is allowed every "
                f"{PURGE_INTERVAL_S:.0f} seconds; the last was "
                f"{now - queue.last_purge:.1f} s ago.",
            )
        queue.last_purge = now
        self.counters["purged"] += queue.store.purge()
        return {}

    def tag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        tags = params.get("Tags")
        if not tags:
            raise missing_parameter("Tags")
        self._add_tags(queue, tags)
        return {}

    def untag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        keys = params.get("TagKeys")
        if not keys:
            raise missing_parameter("TagKeys")
        for key in keys:
            queue.tags.pop(key, None)
        return {}

    def list_queue_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = self.queue_for(params)
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    def list_dead_letter_source_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        target = self.queue_for(params)
        urls = [
            q.url
            for _, q in sorted(self.queues.items())
            if q.redrive is not None and q.redrive[0] == target.arn
        ]
        return _paginate(urls, params, "queueUrls", always=True)

    # -- helpers ---------------------------------------------------------------------

    def retention(self, queue: Queue) -> float:
        """The queue's MessageRetentionPeriod, in seconds."""
        return float(queue.number("MessageRetentionPeriod"))

    def next_sequence_number(self) -> str:
        """A growing 20-digit FIFO sequence number."""
        self._sequence += 1 + self.rng_layout.getrandbits(8)
        return f"{self._sequence:020d}"

    def _check_redrive(self, attrs: dict[str, str], fifo: bool) -> None:
        if not attrs.get("RedrivePolicy"):
            return
        from labsupport.sim.queues import parse_redrive

        arn, _ = parse_redrive(attrs["RedrivePolicy"])
        target = self.queue_by_arn(arn)
        if target is None or target.fifo != fifo:
            reason = "does not exist" if target is None else "is not the same type"
            raise invalid_parameter(
                f"Value {attrs['RedrivePolicy']} for parameter RedrivePolicy is "
                f"invalid. Reason: Dead-letter target {arn} {reason} (a FIFO "
                "queue needs a FIFO dead-letter queue, a standard one a standard)."
            )

    def _add_tags(self, queue: Queue, tags: dict[str, Any]) -> None:
        merged = {**queue.tags, **{str(k): str(v) for k, v in tags.items()}}
        if len(merged) > MAX_TAGS:
            raise invalid_parameter(
                f"Too many tags: a queue can have at most {MAX_TAGS}; this "
                f"request would give it {len(merged)}."
            )
        for key, value in merged.items():
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise invalid_parameter(
                    f"Invalid tag {key!r}: keys are 1 to 128 characters, values "
                    "at most 256."
                )
            if key.lower().startswith(RESERVED_TAG_PREFIX) or value.lower().startswith(
                RESERVED_TAG_PREFIX
            ):
                # Queue quotas: tag keys and values must not use the reserved
                # prefix aws: (in any letter case).
                raise invalid_parameter(
                    f"Invalid tag {key!r}: {value!r}: the prefix "
                    f"{RESERVED_TAG_PREFIX!r} is reserved for AWS in tag keys and "
                    "values."
                )
        queue.tags = merged

    # -- inspection -----------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters so far, for notebooks.

        Keys include ``requests``, ``sent``, ``delivered``, ``redeliveries``
        (deliveries with ApproximateReceiveCount above 1), ``empty_receives``,
        ``false_empties`` (a short poll found nothing while messages were
        receivable on servers it did not sample), ``delete_misses`` (deletes
        that missed a replica), ``outdated_deletes`` (deletes with an old
        receipt handle, which succeed without deleting), ``dedup_hits``,
        ``dlq_moves`` and ``faults.*``; plus ``virtual_elapsed_s`` (seconds
        the clock moved since the model was made).
        """
        with self._cond:
            out: dict[str, Any] = dict(sorted(self.counters.items()))
            out["virtual_elapsed_s"] = round(self.clock.now() - self.started, 6)
            return out

    def __repr__(self) -> str:
        return (
            f"SimModel(preset={self.preset!r}, seed={self.seed}, "
            f"queues={len(self.queues)}, clock={self.clock!r})"
        )


def _known_attribute(name: str) -> bool:
    from labsupport.sim.queues import COMPUTED, SETTABLE

    return name in SETTABLE or name in COMPUTED


def _paginate(
    urls: list[str], params: dict[str, Any], key: str, always: bool = False
) -> dict[str, Any]:
    """ListQueues-style pagination: MaxResults 1 to 1000, an opaque NextToken."""
    limit = params.get("MaxResults")
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token))["start"])
        except (ValueError, KeyError, TypeError) as err:
            raise invalid_parameter(f"Invalid NextToken {token!r}.") from err
    if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 1000):
        raise invalid_parameter(
            f"Value {limit} for parameter MaxResults is invalid. Reason: Must be "
            "between 1 and 1000, if provided."
        )
    size = limit if limit is not None else 1000
    page = urls[start : start + size]
    out: dict[str, Any] = {key: page} if page or always else {}
    if limit is not None and start + size < len(urls):
        raw = json.dumps({"start": start + size}).encode()
        out["NextToken"] = base64.b64encode(raw).decode()
    return out
