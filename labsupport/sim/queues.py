"""A simulated queue: its attributes, tags and stored messages.

Attribute names, ranges and defaults follow the SQS API reference
(CreateQueue, SetQueueAttributes, GetQueueAttributes); a bad name is
InvalidAttributeName and a bad value InvalidAttributeValue, as from the
service.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from typing import Any

from labsupport.sim.errors import SqsError, invalid_parameter
from labsupport.sim.store import FifoStore, StandardStore, Store

__all__ = [
    "ACCOUNT_ID",
    "DEDUP_WINDOW_S",
    "Queue",
    "check_attributes",
    "normal_redrive",
    "parse_redrive",
    "queue_arn",
    "queue_url",
]

ACCOUNT_ID = "123456789012"
DEDUP_WINDOW_S = 300.0  # FIFO deduplication window: 5 minutes
PURGE_INTERVAL_S = 60.0
MAX_RECEIVE_COUNT = 1_000  # RedrivePolicy maxReceiveCount: 1 to 1,000

_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_SQS_ARN = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,80}")

# name -> (low, high, default) for whole-number attributes (seconds or bytes)
_NUMBERS: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1_024, 1_048_576, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400, 300),
}
_TEXTS = {"Policy", "RedriveAllowPolicy", "KmsMasterKeyId", "RedrivePolicy"}
_BOOLEANS = {"SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication"}
_CHOICES = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
FIFO_ONLY = ("FifoQueue", "ContentBasedDeduplication", *_CHOICES)
COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
SETTABLE = (*_NUMBERS, *_TEXTS, *_BOOLEANS, *_CHOICES)


def queue_url(region: str, name: str) -> str:
    """The queue's URL in the form real SQS gives it."""
    return f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"


def queue_arn(region: str, name: str) -> str:
    """The queue's ARN."""
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


def check_name(name: Any, fifo: bool) -> str:
    """A queue name the service accepts, or InvalidParameterValue."""
    stem = name[:-5] if isinstance(name, str) and name.endswith(".fifo") else name
    ok = isinstance(name, str) and len(name) <= 80 and bool(_NAME.fullmatch(stem))
    if fifo and not (ok and name.endswith(".fifo")):
        raise invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, "
            "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 "
            f"in length; got {name!r}."
        )
    if not ok or (not fifo and name.endswith(".fifo")):
        raise invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. "
            f"1 to 80 in length (FIFO queues: ending in .fifo); got {name!r}."
        )
    return str(name)


def check_attributes(
    attributes: dict[str, Any], fifo: bool, creating: bool
) -> dict[str, str]:
    """Validate settable attributes; return them as the strings SQS stores.

    A RedrivePolicy comes back in one normal form (compact JSON, the count a
    number) whether it was given to CreateQueue or SetQueueAttributes.
    """
    clean: dict[str, str] = {}
    for name, raw in attributes.items():
        if name not in SETTABLE or (name == "FifoQueue" and not creating):
            raise SqsError("InvalidAttributeName", f"Unknown Attribute {name}.")
        if name in FIFO_ONLY and not fifo and name != "FifoQueue":
            raise SqsError(
                "InvalidAttributeName",
                f"Unknown Attribute {name}: it applies to FIFO queues only.",
            )
        value = _check_value(name, str(raw))
        if name == "FifoQueue" and value == "false":
            # The service takes FifoQueue only to make a FIFO queue: "false"
            # is refused as an unknown attribute (moto accepts it).
            raise SqsError(
                "InvalidAttributeName",
                "Unknown Attribute FifoQueue. Leave FifoQueue out to create a "
                "standard queue; give it only as true, with a name ending in .fifo.",
            )
        if name == "RedrivePolicy" and (value or creating):
            value = normal_redrive(value)
        clean[name] = value
    return clean


def _check_value(name: str, value: str) -> str:
    if name in _NUMBERS:
        low, high, _ = _NUMBERS[name]
        if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
            raise SqsError(
                "InvalidAttributeValue",
                f"Invalid value for the parameter {name}: must be a whole number "
                f"from {low} to {high}; got {value!r}.",
            )
        return str(int(value))
    if name in _BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise SqsError(
                "InvalidAttributeValue",
                f"Invalid value for the parameter {name}: must be true or false; "
                f"got {value!r}.",
            )
        return value.lower()
    if name in _CHOICES and value not in _CHOICES[name]:
        raise SqsError(
            "InvalidAttributeValue",
            f"Invalid value for the parameter {name}: must be one of "
            f"{', '.join(_CHOICES[name])}; got {value!r}.",
        )
    return value


def parse_redrive(value: str) -> tuple[str, int]:
    """(deadLetterTargetArn, maxReceiveCount) from a RedrivePolicy JSON text.

    maxReceiveCount may be a JSON number or a string of digits (the service
    takes both); it must be from 1 to 1,000.
    """
    try:
        policy = json.loads(value)
    except ValueError as err:
        raise _bad_redrive(f"must be a JSON object; got {value!r} ({err}).") from err
    if not isinstance(policy, dict) or not {
        "deadLetterTargetArn",
        "maxReceiveCount",
    } <= set(policy):
        raise _bad_redrive(
            f"must be JSON with deadLetterTargetArn and maxReceiveCount; got {value!r}."
        )
    arn = policy["deadLetterTargetArn"]
    if not isinstance(arn, str) or not _SQS_ARN.fullmatch(arn):
        raise _bad_redrive(
            "deadLetterTargetArn must be the ARN of an SQS queue "
            f"(arn:aws:sqs:<region>:<account>:<queue name>); got {arn!r}."
        )
    count = policy["maxReceiveCount"]
    whole = (isinstance(count, int) and not isinstance(count, bool)) or (
        isinstance(count, str) and count.isascii() and count.isdigit()
    )
    if not whole or not 1 <= int(count) <= MAX_RECEIVE_COUNT:
        raise _bad_redrive(
            f"maxReceiveCount must be a whole number from 1 to {MAX_RECEIVE_COUNT}; "
            f"got {count!r}."
        )
    return arn, int(count)


def normal_redrive(value: str) -> str:
    """The RedrivePolicy in the form the queue stores and returns."""
    arn, count = parse_redrive(value)
    return json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": count}, separators=(",", ":")
    )


def _bad_redrive(reason: str) -> SqsError:
    return SqsError(
        "InvalidAttributeValue",
        f"Invalid value for the parameter RedrivePolicy: {reason}",
    )


class Queue:
    """One simulated queue. Times are seconds on the model clock.

    Attributes:
        key: small number naming the queue inside receipt handles.
        attributes: settable attributes as SQS returns them (strings).
        store: the messages (a StandardStore or FifoStore).
        dedup: FIFO deduplication id -> (expiry time, message id, sequence).
    """

    def __init__(
        self,
        key: int,
        name: str,
        region: str,
        attributes: dict[str, str],
        now: float,
        servers: int,
    ) -> None:
        self.key = key
        self.name = name
        self.fifo = attributes.get("FifoQueue") == "true"
        self.url = queue_url(region, name)
        self.arn = queue_arn(region, name)
        self.attributes: dict[str, str] = {
            n: str(d) for n, (_, _, d) in _NUMBERS.items()
        }
        del self.attributes["KmsDataKeyReusePeriodSeconds"]
        self.attributes["SqsManagedSseEnabled"] = "true"
        if self.fifo:
            self.attributes.update(
                FifoQueue="true",
                ContentBasedDeduplication="false",
                DeduplicationScope="queue",
                FifoThroughputLimit="perQueue",
            )
        self.attributes.update(attributes)
        self.created = self.modified = now
        self.tags: dict[str, str] = {}
        self.store: Store = FifoStore() if self.fifo else StandardStore(servers)
        self.next_serial = 0
        self.last_purge = -math.inf
        self.dedup: dict[str, tuple[float, str, str | None]] = {}
        self._dedup_order: deque[tuple[float, str]] = deque()
        self.redrive: tuple[str, int] | None = None
        if "RedrivePolicy" in self.attributes:
            self.redrive = parse_redrive(self.attributes["RedrivePolicy"])

    # -- attributes -------------------------------------------------------------

    def number(self, name: str) -> int:
        """A whole-number attribute (VisibilityTimeout, DelaySeconds...)."""
        return int(self.attributes[name])

    def set_attributes(self, attributes: dict[str, str], now: float) -> None:
        """Apply checked attributes; an empty RedrivePolicy removes it."""
        for name, value in attributes.items():
            if name == "RedrivePolicy" and value == "":
                self.attributes.pop(name, None)
                self.redrive = None
                continue
            if name == "RedrivePolicy":
                self.redrive = parse_redrive(value)
            self.attributes[name] = value
        self.modified = now

    def attribute_values(self, now: float, retention_s: float) -> dict[str, str]:
        """Every attribute GetQueueAttributes can return, computed ones included."""
        self.store.refresh(now, retention_s)
        visible, inflight, delayed = self.store.counts()
        values = dict(self.attributes)
        values.update(
            ApproximateNumberOfMessages=str(visible),
            ApproximateNumberOfMessagesNotVisible=str(inflight),
            ApproximateNumberOfMessagesDelayed=str(delayed),
            CreatedTimestamp=str(int(self.created)),
            LastModifiedTimestamp=str(int(self.modified)),
            QueueArn=self.arn,
        )
        return values

    # -- FIFO deduplication ---------------------------------------------------------

    def seen_before(self, dedup_id: str, now: float) -> tuple[str, str | None] | None:
        """(message id, sequence number) of an earlier send with this id, if
        within the 5-minute window (also after that message was deleted)."""
        order = self._dedup_order
        while order and order[0][0] <= now:
            expiry, old = order.popleft()
            if old in self.dedup and self.dedup[old][0] == expiry:
                del self.dedup[old]
        hit = self.dedup.get(dedup_id)
        return None if hit is None else (hit[1], hit[2])

    def remember(
        self, dedup_id: str, now: float, message_id: str, sequence: str | None
    ) -> None:
        """Start the deduplication window of ``dedup_id``."""
        expiry = now + DEDUP_WINDOW_S
        self.dedup[dedup_id] = (expiry, message_id, sequence)
        self._dedup_order.append((expiry, dedup_id))

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, messages={len(self.store)})"
