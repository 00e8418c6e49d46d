"""Request checks the service makes, worded as the service words them.

The rules follow the SQS API reference (SendMessage, ReceiveMessage) and the
limits in ``labsupport.limits``; where moto is looser the service is followed.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from typing import Any

from labsupport.limits import MAX_MESSAGE_ATTRIBUTES
from labsupport.sim.errors import SqsError, invalid_parameter, missing_parameter

__all__ = [
    "attributes_size",
    "check_entry",
    "check_fifo_dedup",
    "int_param",
    "total_size",
]

_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ID_CHARS = re.compile(r"[!-~]{1,128}")  # letters, digits and punctuation
_ATTR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
NUMBER_DIGITS = 38  # Number attributes: significant digits
NUMBER_MIN_EXPONENT = -128
NUMBER_MAX_EXPONENT = 126
_NOT_FOR_TYPE = "The request include parameter that is not valid for this queue type."


def int_param(
    params: dict[str, Any],
    name: str,
    low: int,
    high: int,
    default: int,
    style: str = "range",
) -> int:
    """A whole-number parameter within [low, high], or InvalidParameterValue."""
    value = params.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        if style == "between":
            reason = f"Must be between {low} and {high}, if provided."
        else:
            reason = f"Must be >= {low} and <= {high}, if provided."
        raise invalid_parameter(
            f"Value {value} for parameter {name} is invalid. Reason: {reason}"
        )
    return value


def attributes_size(attributes: dict[str, Any] | None) -> int:
    """Bytes message attributes count: name, data type and value of each."""
    size = 0
    for name, attr in (attributes or {}).items():
        size += len(name.encode()) + len(str(attr.get("DataType", "")).encode())
        if "StringValue" in attr:
            size += len(str(attr["StringValue"]).encode("utf-8"))
        if "BinaryValue" in attr:
            size += len(base64.b64decode(attr["BinaryValue"]))
    return size


def total_size(entry: dict[str, Any]) -> int:
    """Bytes one send entry counts towards a batch's 1 MiB limit."""
    body = entry.get("MessageBody")
    size = len(body.encode("utf-8")) if isinstance(body, str) else 0
    return size + attributes_size(entry.get("MessageAttributes"))


def check_entry(entry: dict[str, Any], fifo: bool, max_size: int) -> int:
    """Check one message to send; return its size in bytes."""
    body = entry.get("MessageBody")
    if not isinstance(body, str) or body == "":
        raise missing_parameter("MessageBody")
    bad = _BAD_CHARS.search(body)
    if bad:
        raise SqsError(
            "InvalidMessageContents",
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the "
            "message body, the set of allowed characters is #x9 | #xA | #xD | "
            "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    _check_attributes(entry.get("MessageAttributes") or {})
    size = total_size(entry)
    if size > max_size:
        raise invalid_parameter(
            "One or more parameters are invalid. Reason: Message must be shorter "
            f"than {max_size} bytes (the queue's MaximumMessageSize); this one "
            f"is {size} bytes with its attributes."
        )
    _check_fifo_fields(entry, fifo)
    return size


def _check_attributes(attributes: dict[str, Any]) -> None:
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed "
            f"maximum [{MAX_MESSAGE_ATTRIBUTES}]."
        )
    for name, attr in attributes.items():
        lowered = name.lower()
        if (
            not _ATTR_NAME.fullmatch(name)
            or lowered.startswith(("aws.", "amazon."))
            or ".." in name
            or name.startswith(".")
            or name.endswith(".")
        ):
            raise invalid_parameter(
                f"The message attribute name '{name}' is invalid: use 1 to 256 of "
                "A-Z a-z 0-9 _ - . (no leading, trailing or doubled period, no "
                "AWS. or Amazon. prefix)."
            )
        kind = str(attr.get("DataType", ""))
        if not kind.startswith(("String", "Number", "Binary")):
            raise invalid_parameter(
                f"The message attribute '{name}' has an invalid message attribute "
                "type, the set of supported type prefixes is Binary, Number, and "
                "String."
            )
        value = attr.get("BinaryValue" if kind.startswith("Binary") else "StringValue")
        if value in (None, "", b""):
            raise invalid_parameter(
                f"The message attribute '{name}' must contain non-empty message "
                f"attribute value for message attribute type '{kind}'."
            )
        if kind.startswith("Number") and not _is_sqs_number(value):
            raise invalid_parameter(
                f"The message attribute '{name}' has type {kind} but its value "
                f"{value!r} is not a number SQS can store: up to "
                f"{NUMBER_DIGITS} significant digits, magnitude from 10^"
                f"{NUMBER_MIN_EXPONENT} to 10^{NUMBER_MAX_EXPONENT}."
            )


def _is_sqs_number(value: object) -> bool:
    """True if ``value`` is the text of a number a Number attribute can hold.

    The developer guide: positive or negative integers or floating-point
    numbers, up to 38 digits of precision, from 10^-128 to 10^+126 (leading
    and trailing zeros are trimmed).
    """
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        return False
    # Read the digits and exponent exactly (no rounding to a context).
    _, digit_tuple, exponent = Decimal(value).as_tuple()
    assert isinstance(exponent, int)  # finite: the pattern has no NaN or inf
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return True  # zero
    magnitude = exponent + len(digits) - 1  # power of ten of the first digit
    return (
        len(significant) <= NUMBER_DIGITS
        and NUMBER_MIN_EXPONENT <= magnitude <= NUMBER_MAX_EXPONENT
    )


def _check_fifo_fields(entry: dict[str, Any], fifo: bool) -> None:
    group = entry.get("MessageGroupId")
    dedup = entry.get("MessageDeduplicationId")
    for name, value in (("MessageGroupId", group), ("MessageDeduplicationId", dedup)):
        if value is not None and not _ID_CHARS.fullmatch(str(value)):
            raise invalid_parameter(
                f"Value {value} for parameter {name} is invalid. Reason: {name} "
                "can only include alphanumeric and punctuation characters. 1 to "
                "128 in length."
            )
    if not fifo:
        if dedup is not None:
            raise invalid_parameter(
                f"Value {dedup} for parameter MessageDeduplicationId is invalid. "
                f"Reason: {_NOT_FOR_TYPE}"
            )
        return
    if group is None:
        raise missing_parameter("MessageGroupId")
    if entry.get("DelaySeconds"):
        raise invalid_parameter(
            f"Value {entry['DelaySeconds']} for parameter DelaySeconds is invalid. "
            f"Reason: {_NOT_FOR_TYPE} FIFO queues take a delay only as the queue's "
            "DelaySeconds attribute."
        )


def check_fifo_dedup(entry: dict[str, Any], content_based: bool) -> None:
    """A FIFO send needs a deduplication id unless ContentBasedDeduplication."""
    if not entry.get("MessageDeduplicationId") and not content_based:
        raise invalid_parameter(
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )
