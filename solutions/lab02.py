"""Lab 02: latency, short and long polling."""

from __future__ import annotations

from typing import Any

from labsupport import metrics
from labsupport.lab.costs import dollars
from labsupport.lab.polling import polls_until_last


def ex1(run: Any) -> float:
    """Dollars per million messages of the receive calls made while messages
    still arrived (the stop rule's calls after the last one left out)."""
    calls = len(polls_until_last(run))
    messages = int(run.sends["sent"].sum())
    return dollars(calls / messages * 1_000_000)


def ex2(run: Any) -> float:
    """Share of those receive calls that came back empty."""
    return metrics.empty_receive_ratio(polls_until_last(run))


def ex3() -> int:
    """Long polls of 20 s on an empty queue in an hour."""
    return 3600 // 20
