"""The AWS JSON 1.0 protocol: requests in, responses and errors out.

botocore (1.34.90 and later) sends SQS requests as ``POST /`` with the header
``X-Amz-Target: AmazonSQS.<Operation>`` and a JSON body. This module turns
such a request into a model call and the outcome into the status, headers and
body the service would send, including the ``x-amzn-query-error`` header that
lets botocore show the legacy error code (``AWS.SimpleQueueService.
NonExistentQueue``) and raise the modeled exception class.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from typing import Any

from labsupport.sim.errors import SqsError
from labsupport.sim.model import SimModel
from labsupport.sim.queues import ACCOUNT_ID

__all__ = [
    "CONTENT_TYPE",
    "TARGET_PREFIX",
    "error_response",
    "handle_request",
    "rebase_urls",
]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AmazonSQS."
_request_numbers = itertools.count()
# response members holding queue URLs (CreateQueue, GetQueueUrl, ListQueues,
# ListDeadLetterSourceQueues)
URL_KEYS = ("QueueUrl", "QueueUrls", "queueUrls")

Response = tuple[int, dict[str, str], bytes]


def handle_request(
    model: SimModel,
    target: str | None,
    body: bytes | str | None,
    base_url: str | None = None,
) -> Response:
    """Answer one JSON-protocol request with ``model``.

    ``base_url`` (``http://127.0.0.1:4566``) is where the request was sent
    when it came over HTTP: queue URLs in the answer then point there
    (``<base_url>/123456789012/<name>``), as moto's server does, so an SDK
    that sends requests to the QueueUrl reaches this server and not AWS.
    Without it they have the AWS form, which is fine in-process.

    Returns (HTTP status, headers, body bytes). Service errors become error
    responses; any other exception is a bug in the model and propagates.
    """
    request_id = _request_id(model.seed)
    try:
        operation, params = parse_request(target, body)
        result = model.call(operation, params)
    except SqsError as err:
        return error_response(err, request_id)
    if base_url:
        result = rebase_urls(result, base_url)
    payload = json.dumps(result, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    return 200, headers, payload


def rebase_urls(result: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``result`` with its queue URLs under ``base_url`` instead of AWS's host."""
    out = dict(result)
    for key in URL_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _rebase(value, base_url)
        elif isinstance(value, list):
            out[key] = [_rebase(url, base_url) for url in value]
    return out


def _rebase(url: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/{ACCOUNT_ID}/{url.rsplit('/', 1)[-1]}"


def parse_request(
    target: str | None, body: bytes | str | None
) -> tuple[str, dict[str, Any]]:
    """(operation name, parameters) from the target header and JSON body."""
    if not target or not target.startswith(TARGET_PREFIX):
        raise SqsError(
            "UnsupportedOperation",
            f"Expected an X-Amz-Target header of the form AmazonSQS.<Operation>; "
            f"got {target!r}.",
        )
    operation = target[len(TARGET_PREFIX) :]
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8")
    if not body:
        return operation, {}
    try:
        params = json.loads(body)
    except ValueError as err:
        raise SqsError(
            "InvalidParameterValue", f"The request body is not valid JSON: {err}."
        ) from err
    if not isinstance(params, dict):
        raise SqsError(
            "InvalidParameterValue", "The request body must be a JSON object."
        )
    return operation, params


def error_response(err: SqsError, request_id: str = "") -> Response:
    """The HTTP error response the service sends for ``err``."""
    fault = "Sender" if err.sender_fault else "Receiver"
    headers = {
        "Content-Type": CONTENT_TYPE,
        "x-amzn-RequestId": request_id,
        "x-amzn-query-error": f"{err.code};{fault}",
    }
    body = {"__type": f"com.amazonaws.sqs#{err.shape}", "message": err.message}
    logger.debug("sim: %s %s", err.code, err.message)
    return err.status, headers, json.dumps(body).encode("utf-8")


def _request_id(seed: int) -> str:
    digest = hashlib.md5(f"{seed}:{next(_request_numbers)}".encode()).hexdigest()
    return (
        f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    )
