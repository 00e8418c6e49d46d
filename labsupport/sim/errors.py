"""Service errors the model answers with, shaped as SQS sends them.

An :class:`SqsError` becomes an HTTP error response in :mod:`labsupport.sim.wire`:
status 400 (sender fault) or 500/503 (service fault), a JSON body with
``__type`` naming the error shape of the botocore SQS model, and the
``x-amzn-query-error`` header carrying the legacy query error code. botocore
puts that code in ``err.response["Error"]["Code"]`` and raises the modeled
exception class (``client.exceptions.QueueDoesNotExist``), as with real SQS.
"""

from __future__ import annotations

from labsupport.errors import LabError

__all__ = [
    "SqsError",
    "batch_errors",
    "invalid_parameter",
    "missing_parameter",
    "queue_does_not_exist",
]

# error shape -> (legacy query code, HTTP status). Shapes follow the botocore
# SQS service model; codes and statuses follow the service model's error traits
# (awsQueryError code and HTTP status, as in the query-protocol botocore model
# and the current Smithy model): 403 for OverLimit, PurgeQueueInProgress and
# RequestThrottled, 404 for InvalidAddress and ReceiptHandleIsInvalid, 400 for
# the rest. The API reference pages list 400 for some of these; the model wins.
_CODES: dict[str, tuple[str, int]] = {
    "QueueDoesNotExist": ("AWS.SimpleQueueService.NonExistentQueue", 400),
    "QueueNameExists": ("QueueAlreadyExists", 400),
    "QueueDeletedRecently": ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
    "BatchEntryIdsNotDistinct": (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        400,
    ),
    "TooManyEntriesInBatchRequest": (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        400,
    ),
    "EmptyBatchRequest": ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
    "InvalidBatchEntryId": ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
    "BatchRequestTooLong": ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
    "InvalidMessageContents": ("InvalidMessageContents", 400),
    "ReceiptHandleIsInvalid": ("ReceiptHandleIsInvalid", 404),
    "MessageNotInflight": ("AWS.SimpleQueueService.MessageNotInflight", 400),
    "PurgeQueueInProgress": ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
    "OverLimit": ("OverLimit", 403),
    "InvalidAttributeName": ("InvalidAttributeName", 400),
    "InvalidAttributeValue": ("InvalidAttributeValue", 400),
    "InvalidAddress": ("InvalidAddress", 404),
    "UnsupportedOperation": ("AWS.SimpleQueueService.UnsupportedOperation", 400),
    "RequestThrottled": ("RequestThrottled", 403),
    "InvalidParameterValue": ("InvalidParameterValue", 400),
    "MissingParameter": ("MissingParameter", 400),
    "InternalError": ("InternalError", 500),
    "ServiceUnavailable": ("ServiceUnavailable", 503),
}


class SqsError(LabError):
    """An error the simulated service answers a request with.

    Attributes:
        shape: the error shape name (``QueueDoesNotExist``).
        code: the legacy query error code boto3 shows
            (``AWS.SimpleQueueService.NonExistentQueue``).
        status: the HTTP status code.
        sender_fault: True when the caller's request was at fault.
    """

    def __init__(self, shape: str, message: str) -> None:
        self.shape = shape
        self.code, self.status = _CODES.get(shape, (shape, 400))
        self.sender_fault = self.status < 500
        self.message = message
        super().__init__(f"{self.code}: {message}")


def invalid_parameter(message: str) -> SqsError:
    """InvalidParameterValue with ``message``."""
    return SqsError("InvalidParameterValue", message)


def missing_parameter(name: str) -> SqsError:
    """MissingParameter naming the parameter."""
    return SqsError(
        "MissingParameter", f"The request must contain the parameter {name}."
    )


def queue_does_not_exist() -> SqsError:
    """The queue named by the request does not exist (or was deleted)."""
    return SqsError("QueueDoesNotExist", "The specified queue does not exist.")


def batch_errors(kind: str, ids: list[str], max_entries: int = 10) -> None:
    """Check a batch's entry ids as the service does; raise on the first problem.

    ``kind`` is the entry type's prefix ("SendMessage", "DeleteMessage",
    "ChangeMessageVisibility").
    """
    if not ids:
        raise SqsError(
            "EmptyBatchRequest",
            f"There should be at least one {kind}BatchRequestEntry in the request.",
        )
    if len(ids) > max_entries:
        raise SqsError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {max_entries}. "
            f"You have sent {len(ids)}.",
        )
    seen: set[str] = set()
    for entry_id in ids:
        if not _valid_entry_id(entry_id):
            raise SqsError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, "
                f"hyphens and underscores, 1 to 80 long; got {entry_id!r}.",
            )
        if entry_id in seen:
            raise SqsError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)


def _valid_entry_id(entry_id: object) -> bool:
    return (
        isinstance(entry_id, str)
        and 1 <= len(entry_id) <= 80
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in entry_id)
    )
