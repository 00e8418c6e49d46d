"""Lab 02: latency, short and long polling."""

from __future__ import annotations

import pandas as pd

from labsupport import metrics
from labsupport.lab.costs import dollars


def ex1(polls: pd.DataFrame, messages: int) -> float:
    """Dollars the receive calls cost per million messages."""
    per_message = len(polls) / messages
    return dollars(per_message * 1_000_000)


def ex2(polls: pd.DataFrame) -> float:
    """Share of receive calls that came back empty."""
    return metrics.empty_receive_ratio(polls)


def ex3() -> int:
    """Long polls of 20 s on an empty queue in an hour."""
    return 3600 // 20
