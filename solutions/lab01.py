"""Lab 01: batches."""

from __future__ import annotations

import math
from typing import Any

from labsupport.limits import BATCH_MAX_BYTES, BATCH_MAX_ENTRIES


def calls_needed(messages: int, size: int) -> int:
    """SendMessageBatch calls for ``messages`` bodies of ``size`` bytes each."""
    per_batch = min(BATCH_MAX_ENTRIES, BATCH_MAX_BYTES // size)
    return math.ceil(messages / per_batch)


def ex1() -> int:
    """Calls for 95 messages of 100 bytes."""
    return calls_needed(95, 100)


def ex2() -> int:
    """Calls for 25 messages of 300,000 bytes: 3 fit in 1 MiB."""
    return calls_needed(25, 300_000)


def ex3(response: dict[str, Any]) -> list[str]:
    """Ids of the failed entries worth a retry (not the sender's fault)."""
    return [f["Id"] for f in response.get("Failed", []) if not f["SenderFault"]]
