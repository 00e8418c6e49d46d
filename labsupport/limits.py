"""The service's limits, and checks that apply them before a request is sent.

The figures follow the SQS API reference and developer guide (see
``docs/sqs-facts.md``). The offline emulators are looser than the service,
so the kit checks these itself: a lab that passes on moto then also passes on
real SQS. Each check raises a :class:`~labsupport.errors.LimitError` naming
the rule, the limit and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labsupport.errors import (
    InvalidMessageContents,
    InvalidParameter,
    InvalidQueueName,
    MessageTooLarge,
)

__all__ = [
    "BATCH_MAX_BYTES",
    "BATCH_MAX_ENTRIES",
    "MAX_MESSAGE_BYTES",
    "check_batch_size",
    "check_body",
    "check_count",
    "check_delay",
    "check_entry_id",
    "check_group_id",
    "check_max_messages",
    "check_queue_name",
    "check_visibility_timeout",
    "check_wait_time",
    "message_size",
]

MAX_MESSAGE_BYTES = 1_048_576  # 1 MiB since August 2025
MIN_MESSAGE_SIZE_ATTRIBUTE = 1_024
BATCH_MAX_ENTRIES = 10
BATCH_MAX_BYTES = 1_048_576
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_TIMEOUT = 43_200  # 12 hours
MAX_DELAY_SECONDS = 900
MAX_MESSAGE_ATTRIBUTES = 10
QUEUE_NAME_MAX = 80
ENTRY_ID_MAX = 80

_NAME = re.compile(r"[A-Za-z0-9_-]+")
# Characters the service accepts in a body (XML 1.0 character ranges).
_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_queue_name(name: str, fifo: bool | None = None) -> str:
    """Return ``name`` if SQS accepts it as a queue name, else raise.

    A name is 1 to 80 characters of letters, digits, ``-`` and ``_``; a FIFO
    queue's name ends in ``.fifo``, which counts towards the 80. ``fifo=None``
    takes the kind from the name.
    """
    rule_limit = "1 to 80 characters of A-Z a-z 0-9 - _ (FIFO: ending in .fifo)"
    if not isinstance(name, str):
        raise InvalidQueueName("queue name", rule_limit, name)
    is_fifo = name.endswith(".fifo")
    stem = name[: -len(".fifo")] if is_fifo else name
    if not 1 <= len(name) <= QUEUE_NAME_MAX or not _NAME.fullmatch(stem):
        raise InvalidQueueName(
            "queue name", rule_limit, name, f"({len(name)} characters)"
        )
    if fifo is True and not is_fifo:
        raise InvalidQueueName(
            "FIFO queue name", "a name ending in .fifo", name, f"Try {name}.fifo."
        )
    if fifo is False and is_fifo:
        raise InvalidQueueName(
            "standard queue name", "a name not ending in .fifo", name
        )
    return name


def message_size(body: str, attributes: Mapping[str, Any] | None = None) -> int:
    """Bytes a message counts against the size limits: body plus attributes.

    Each attribute counts its name, its data type and its value, as the
    service documents for MessageAttributes.
    """
    size = len(body.encode("utf-8"))
    for name, attr in (attributes or {}).items():
        size += len(name.encode()) + len(str(attr.get("DataType", "")).encode())
        if "StringValue" in attr:
            size += len(str(attr["StringValue"]).encode("utf-8"))
        if "BinaryValue" in attr:
            size += len(bytes(attr["BinaryValue"]))
    return size


def check_body(
    body: str,
    attributes: Mapping[str, Any] | None = None,
    max_size: int = MAX_MESSAGE_BYTES,
) -> int:
    """Check one message against the body rules; return its size in bytes.

    ``max_size`` is the queue's MaximumMessageSize attribute (bytes).
    """
    if not isinstance(body, str) or body == "":
        raise InvalidParameter(
            "message body", "a non-empty string", body, "SQS needs at least 1 byte."
        )
    bad = _BAD_CHARS.search(body)
    if bad:
        raise InvalidMessageContents(
            "message body characters",
            "#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF",
            f"U+{ord(bad.group()):04X} at position {bad.start()}",
            "Encode binary data, for example with base64.",
        )
    if attributes is not None and len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameter(
            "number of message attributes",
            f"at most {MAX_MESSAGE_ATTRIBUTES}",
            len(attributes),
        )
    size = message_size(body, attributes)
    if size > max_size:
        raise MessageTooLarge(
            "message size (body plus attributes)",
            f"at most {max_size:,} bytes (the queue's MaximumMessageSize)",
            size,
            "Store large payloads elsewhere (S3) and send a reference.",
            unit="bytes",
        )
    return size


def check_entry_id(entry_id: str) -> str:
    """Return a batch entry id if valid: 1 to 80 of A-Z a-z 0-9 - _."""
    if (
        not isinstance(entry_id, str)
        or not 1 <= len(entry_id) <= ENTRY_ID_MAX
        or not _NAME.fullmatch(entry_id)
    ):
        raise InvalidParameter(
            "batch entry Id", "1 to 80 characters of A-Z a-z 0-9 - _", entry_id
        )
    return entry_id


_GROUP = re.compile(r"[A-Za-z0-9!-/:-@\[-`{-~]{1,128}")


def check_group_id(group_id: str) -> str:
    """A MessageGroupId or deduplication id: 1 to 128 characters, letters,
    digits and punctuation."""
    if not isinstance(group_id, str) or not _GROUP.fullmatch(group_id):
        raise InvalidParameter(
            "MessageGroupId",
            "1 to 128 characters of letters, digits and punctuation",
            group_id,
        )
    return group_id


def _check_int(rule: str, value: Any, low: int, high: int, hint: str = "") -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise InvalidParameter(
            rule, f"a whole number from {low} to {high}", value, hint
        )
    return value


def check_batch_size(value: Any) -> int:
    """SendMessageBatch takes 1 to 10 entries."""
    return _check_int("batch size", value, 1, BATCH_MAX_ENTRIES)


def check_max_messages(value: Any) -> int:
    """ReceiveMessage's MaxNumberOfMessages is 1 to 10."""
    return _check_int("MaxNumberOfMessages", value, 1, BATCH_MAX_ENTRIES)


def check_wait_time(value: Any) -> int:
    """WaitTimeSeconds is 0 (short polling) to 20 seconds."""
    return _check_int(
        "WaitTimeSeconds", value, 0, MAX_WAIT_SECONDS, "0 means short polling."
    )


def check_visibility_timeout(value: Any) -> int:
    """VisibilityTimeout is 0 to 43,200 seconds (12 hours)."""
    return _check_int("VisibilityTimeout (seconds)", value, 0, MAX_VISIBILITY_TIMEOUT)


def check_delay(value: Any) -> int:
    """DelaySeconds is 0 to 900 seconds (15 minutes)."""
    return _check_int("DelaySeconds", value, 0, MAX_DELAY_SECONDS)


def check_count(value: Any, rule: str = "message count") -> int:
    """A number of messages to send is at least 1."""
    return _check_int(rule, value, 1, 10**9)
