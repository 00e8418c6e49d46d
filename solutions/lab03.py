"""Lab 03: ordering."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from labsupport import metrics


def count_inversions(seq: Sequence[int]) -> int:
    """Pairs i < j with seq[i] > seq[j], the simple way (O(n^2))."""
    return sum(
        1 for i in range(len(seq)) for j in range(i + 1, len(seq)) if seq[i] > seq[j]
    )


def ex1() -> int:
    """Inversions in 0, 3, 1, 2, 5, 4."""
    return count_inversions([0, 3, 1, 2, 5, 4])


def ex3(deliveries: pd.DataFrame, groups: int) -> int:
    """Inversions within message group 1 of a FIFO run."""
    order = metrics.receive_order(deliveries)
    return count_inversions([seq for seq in order if seq % groups == 1])
