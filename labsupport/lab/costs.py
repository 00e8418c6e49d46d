"""What a run's requests would cost on Amazon SQS.

SQS bills per request: about $0.40 per million for standard queues and
$0.50 for FIFO (US East, after the free tier). Each 64 KiB chunk of a
request's payload counts as one request, so a batch of ten 100-byte
messages is one request and a 200 KiB message is four.

Limitations:
    The counts come from a run's tables, not from the service's bill.
    Send calls are counted from the entry ids of each message's last
    attempt, so a batch call whose every entry was retried later is not
    counted; receives that returned more than 64 KiB are counted as one
    request. Prices change and differ by region: pass your own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labsupport.lab.polling import polls_until_last

__all__ = [
    "CHUNK_BYTES",
    "FIFO_PRICE_PER_MILLION",
    "STANDARD_PRICE_PER_MILLION",
    "RequestCount",
    "billed_requests",
    "cost_table",
    "count_requests",
    "dollars",
]

CHUNK_BYTES = 65_536  # 64 KiB: each chunk of a payload is billed as a request
STANDARD_PRICE_PER_MILLION = 0.40  # US dollars
FIFO_PRICE_PER_MILLION = 0.50


@dataclass(frozen=True)
class RequestCount:
    """Requests a run made, by kind, and the messages it sent.

    Attributes:
        send: SendMessageBatch calls, billed by 64 KiB chunk.
        receive: ReceiveMessage calls, empty ones included.
        delete: DeleteMessageBatch calls.
        messages: messages SQS accepted.
    """

    send: int
    receive: int
    delete: int
    messages: int

    @property
    def total(self) -> int:
        """All billed requests."""
        return self.send + self.receive + self.delete

    @property
    def per_message(self) -> float:
        """Billed requests per message sent (nan when none was sent)."""
        return self.total / self.messages if self.messages else math.nan


def billed_requests(payload_bytes: int) -> int:
    """Requests billed for one call carrying ``payload_bytes`` bytes (at least 1)."""
    return max(1, math.ceil(payload_bytes / CHUNK_BYTES))


def count_requests(sends: pd.DataFrame, polls: pd.DataFrame) -> RequestCount:
    """Count a run's billed requests from its sends and polls tables.

    The kit's receiver deletes what each non-empty receive returned with one
    DeleteMessageBatch call, so deletes are the non-empty polls.
    """
    sent = sends[sends["sent"].eq(True)]
    batch = sent["entry_id"].astype(str).str.split("-", n=1).str[0]
    per_call = sent.groupby(batch)["body_bytes"].sum()
    send_requests = sum(billed_requests(int(size)) for size in per_call)
    return RequestCount(
        send=send_requests,
        receive=len(polls),
        delete=int((polls["returned"] > 0).sum()),
        messages=len(sent),
    )


def dollars(
    requests: float, price_per_million: float = STANDARD_PRICE_PER_MILLION
) -> float:
    """What ``requests`` billed requests cost, in US dollars."""
    return requests * price_per_million / 1_000_000


def cost_table(
    runs: Mapping[str, Any],
    price_per_million: float = STANDARD_PRICE_PER_MILLION,
    *,
    include_idle: bool = True,
) -> pd.DataFrame:
    """Requests and dollars per million messages, one row per run.

    ``runs`` maps a label to an experiment result (anything with ``sends``,
    ``deliveries`` and ``polls`` tables). Dollars assume every message is
    handled the way the run handled its own, at ``price_per_million``
    dollars per million requests. With ``include_idle`` False, receive calls
    made after the run's last new message arrived (the ones its stop rule
    added while the queue was idle) are left out.
    """
    rows = []
    for label, result in runs.items():
        polls = result.polls if include_idle else polls_until_last(result)
        count = count_requests(result.sends, polls)
        rows.append(
            {
                "run": str(label),
                "send": count.send,
                "receive": count.receive,
                "delete": count.delete,
                "per message": round(count.per_message, 3),
                "$ per M messages": round(
                    dollars(count.per_message * 1_000_000, price_per_million), 2
                ),
            }
        )
    return pd.DataFrame(rows).set_index("run")
