"""Lab 05: instructor demo."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labsupport import metrics


def ex1(results: Mapping[str, Any]) -> str:
    """Label of the run with the most receive-order inversions."""
    return max(
        results,
        key=lambda label: metrics.count_inversions(
            metrics.receive_order(results[label].deliveries)
        ),
    )
