"""Delivery metrics: what an experiment's tables say about the queue.

Every function here is pure: it reads the ``sends``, ``deliveries`` and
``polls`` tables described in :mod:`labsupport.experiment.records` and returns
numbers, never changing its input. A message is identified by its ``seq``
number, read back from the body, so a copy delivered twice counts as one
message delivered twice, whatever its receipt handle.

Receive order is the order of ``(poll, position)``: the receive call's number,
then the place in that call's response. Times and latencies keep the units of
the tables (seconds for clock times, milliseconds for ``latency_ms``).

Limitations:
    A send that timed out and was retried can put two distinct SQS messages
    with the same body on the queue (the botocore retry does not know the
    first one arrived). Both carry the same ``seq``, so the metrics count the
    second one as a duplicate, which is what a consumer would see too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from labsupport.errors import LabError
from labsupport.experiment.records import SUMMARY_KEYS

__all__ = [
    "ColumnsMissing",
    "InvalidSequence",
    "Ledger",
    "adjacent_inversion_ratio",
    "count_inversions",
    "deliveries_per_message",
    "empty_receive_ratio",
    "first_deliveries",
    "inversions_within_groups",
    "latency_percentiles",
    "ledger",
    "messages_per_receive",
    "receive_order",
    "summarize",
]

logger = logging.getLogger(__name__)

# Percentiles reported everywhere in the kit, as (key, percent).
_PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0))

# ReceiveMessage returns at most 10 messages (MaxNumberOfMessages 1 to 10).
_MAX_PER_RECEIVE = 10

_RECEIVE_ORDER = ["poll", "position"]


class ColumnsMissing(LabError, ValueError):
    """A table lacks columns a metric needs.

    Attributes:
        table: which table ("deliveries", "sends", "polls").
        missing: the column names that are not there.
    """

    def __init__(self, table: str, missing: list[str]) -> None:
        self.table = table
        self.missing = missing
        super().__init__(
            f"Invalid {table} table: must have the columns listed in "
            f"labsupport.experiment.records; missing {', '.join(missing)}. "
            f"Pass the table an experiment returned, or build it with those columns."
        )


class InvalidSequence(LabError, ValueError):
    """An order to measure is not a flat sequence of numbers."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        super().__init__(
            f"Invalid sequence: must be one-dimensional (a list of seq numbers); "
            f"got an array of shape {shape}. Pass receive_order(deliveries)."
        )


def _table(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """Check ``frame`` has ``columns``; an empty frame without them is allowed."""
    missing = [column for column in columns if column not in frame.columns]
    if not missing:
        return frame
    if len(frame) == 0:
        return frame.reindex(columns=[*frame.columns, *missing])
    raise ColumnsMissing(name, missing)


def first_deliveries(deliveries: pd.DataFrame) -> pd.DataFrame:
    """Each message's first delivery, in receive order.

    Args:
        deliveries: the deliveries table (one row per message received).

    Returns:
        A new table with the same columns and one row per distinct ``seq``:
        the earliest by ``(poll, position)``. The index runs 0, 1, 2, ...

    Raises:
        ColumnsMissing: ``deliveries`` has rows but no seq, poll or position.
    """
    deliveries = _table(deliveries, ["seq", *_RECEIVE_ORDER], "deliveries")

    in_order = deliveries.sort_values(_RECEIVE_ORDER, kind="stable")
    first = in_order.drop_duplicates(subset="seq", keep="first")
    return first.reset_index(drop=True)


def receive_order(deliveries: pd.DataFrame) -> list[int]:
    """The ``seq`` numbers in the order they were first received.

    Redeliveries are left out: each message appears once, at its first
    delivery (see :func:`first_deliveries`).
    """
    return [int(seq) for seq in first_deliveries(deliveries)["seq"]]


def latency_percentiles(
    deliveries: pd.DataFrame, first_only: bool = True
) -> dict[str, float]:
    """Send-to-receive latency percentiles, in milliseconds.

    Args:
        deliveries: the deliveries table; its ``latency_ms`` column is used.
        first_only: count only each message's first delivery (the default).
            With False every delivery counts, so a redelivery after a
            visibility timeout adds one long latency.

    Returns:
        ``{"p50", "p90", "p99", "max"}`` as floats in milliseconds. The
        percentiles interpolate linearly between ranks (numpy's default).
        Rows without a latency are skipped; when no latency is left, every
        value is ``nan`` (:func:`summarize` turns that into None for JSON).
    """
    deliveries = _table(deliveries, ["latency_ms"], "deliveries")
    rows = first_deliveries(deliveries) if first_only else deliveries

    latencies = pd.to_numeric(rows["latency_ms"], errors="coerce").dropna()
    values = latencies.to_numpy(dtype=float)
    if values.size == 0:
        return {key: math.nan for key in ("p50", "p90", "p99", "max")}
    percents = [percent for _, percent in _PERCENTILES]
    found = np.percentile(values, percents)
    result = {
        key: float(value) for (key, _), value in zip(_PERCENTILES, found, strict=True)
    }
    result["max"] = float(values.max())
    return result


def count_inversions(seq: npt.ArrayLike) -> int:
    """How many pairs are out of order: i < j with ``seq[i] > seq[j]``.

    This is the Kendall tau distance between ``seq`` and its sorted order:
    the number of swaps of neighbours a bubble sort would make. Equal values
    are never an inversion, so a duplicate next to its first copy adds none.

    Args:
        seq: a one-dimensional sequence of numbers (usually seq numbers in
            receive order, see :func:`receive_order`).

    Returns:
        The inversion count, from 0 (sorted) to n(n-1)/2 (reversed).

    Raises:
        InvalidSequence: ``seq`` has more than one dimension.

    Notes:
        Runs in O(n log n) with numpy, one pass per bit of the values' ranks:
        a pair's order is decided by the highest bit where their ranks
        differ, so at each bit every element with a 0 there counts the
        elements with a 1 before it that share all higher bits. About a
        second for a million values (see benchmarks/bench_metrics.py).
    """
    values = np.asarray(seq)
    if values.ndim != 1:
        raise InvalidSequence(values.shape)
    if values.size < 2 or bool(np.all(values[:-1] <= values[1:])):
        return 0

    ranks = np.unique(values, return_inverse=True)[1].reshape(-1).astype(np.int64)
    top_bit = int(ranks.max()).bit_length() - 1

    total = 0
    order = ranks
    index = np.arange(ranks.size, dtype=np.int64)
    for bit in range(top_bit, -1, -1):
        found, order = _inversions_at_bit(order, bit, index)
        total += found
    return total


def _inversions_at_bit(
    order: npt.NDArray[np.int64], bit: int, index: npt.NDArray[np.int64]
) -> tuple[int, npt.NDArray[np.int64]]:
    """Count the pairs decided at ``bit``, then split each group by that bit.

    ``order`` is grouped by the bits above ``bit``: groups are contiguous and
    keep the original order inside. Returns the count and the array grouped
    by the bits down to ``bit`` (a stable partition of each group, 0s first).
    ``index`` is ``arange(order.size)``, passed in to build it only once.
    """
    high = order >> (bit + 1)
    ones = (order >> bit) & 1
    changes = high[1:] != high[:-1]
    is_start = np.concatenate(([True], changes))
    is_end = np.concatenate((changes, [True]))

    # Running counts are nondecreasing, so a running max (from the left) or
    # min (from the right) over group edges carries each edge's value to
    # every element of its group without any gather.
    ones_before = np.cumsum(ones) - ones
    zeros_before = index - ones_before
    ones_before_group = np.maximum.accumulate(np.where(is_start, ones_before, 0))
    is_zero = ones == 0
    found = int(ones_before[is_zero].sum() - ones_before_group[is_zero].sum())

    zeros_to_end = np.where(is_end, zeros_before + 1 - ones, order.size)
    zeros_to_end = np.minimum.accumulate(zeros_to_end[::-1])[::-1]
    target = np.where(
        is_zero, zeros_before + ones_before_group, zeros_to_end + ones_before
    )
    regrouped = np.empty_like(order)
    regrouped[target] = order
    return found, regrouped


def adjacent_inversion_ratio(seq: Sequence[int] | npt.ArrayLike) -> float:
    """Share of neighbouring pairs that are out of order (``seq[i] > seq[i+1]``).

    Returns 0.0 for fewer than two items. Equal neighbours are in order.
    """
    values = np.asarray(seq)
    if values.size < 2:
        return 0.0
    descents = int(np.count_nonzero(values[:-1] > values[1:]))
    return descents / (values.size - 1)


@dataclass(frozen=True)
class Ledger:
    """Where every message of a run went.

    Attributes:
        sent: messages SQS accepted (``sends.sent`` is True).
        unique_delivered: sent messages received at least once.
        deliveries: delivery rows in total, foreign ones included.
        duplicates: extra deliveries of sent messages, past the first of each.
        duplicated_messages: sent messages received more than once.
        missing: sent messages never received.
        not_sent: messages tried but never accepted.
        foreign: delivery rows whose seq was not sent in this run (left over
            from an earlier run, or sent although the send was reported as
            failed). They are kept out of the balance.
    """

    sent: int
    unique_delivered: int
    deliveries: int
    duplicates: int
    duplicated_messages: int
    missing: int
    not_sent: int
    foreign: int

    @property
    def balanced(self) -> bool:
        """True when every sent message and every delivery is accounted for.

        ``sent == unique_delivered + missing`` and
        ``deliveries == unique_delivered + duplicates + foreign``.
        """
        messages = self.sent == self.unique_delivered + self.missing
        rows = self.deliveries == self.unique_delivered + self.duplicates + self.foreign
        return messages and rows


def ledger(sends: pd.DataFrame, deliveries: pd.DataFrame) -> Ledger:
    """Count sent, delivered, duplicated and missing messages.

    A seq counts as sent when any of its rows in ``sends`` has ``sent``
    True, and as not sent when it was tried but no row has.
    """
    sends = _table(sends, ["seq", "sent"], "sends")
    deliveries = _table(deliveries, ["seq"], "deliveries")

    accepted = sends["sent"].eq(True)
    sent_seqs = set(sends.loc[accepted, "seq"].astype("int64"))
    tried_seqs = set(sends["seq"].astype("int64"))
    per_seq = deliveries["seq"].astype("int64").value_counts()
    ours = per_seq[per_seq.index.isin(list(sent_seqs))]

    unique = len(ours)
    own_rows = int(ours.sum())
    return Ledger(
        sent=len(sent_seqs),
        unique_delivered=unique,
        deliveries=len(deliveries),
        duplicates=own_rows - unique,
        duplicated_messages=int((ours > 1).sum()),
        missing=len(sent_seqs) - unique,
        not_sent=len(tried_seqs - sent_seqs),
        foreign=len(deliveries) - own_rows,
    )


def deliveries_per_message(sends: pd.DataFrame, deliveries: pd.DataFrame) -> pd.Series:
    """How many sent messages were delivered 0, 1, 2, ... times.

    Returns:
        Counts of messages indexed by deliveries per message, from 0 (missing)
        to the highest seen, with no gaps. Foreign deliveries are left out.
    """
    sends = _table(sends, ["seq", "sent"], "sends")
    deliveries = _table(deliveries, ["seq"], "deliveries")

    accepted = sends["sent"].eq(True)
    sent_seqs = pd.Index(sends.loc[accepted, "seq"].astype("int64").unique())
    per_seq = deliveries["seq"].astype("int64").value_counts()
    times = per_seq.reindex(sent_seqs, fill_value=0)

    top = int(times.max()) if len(times) else 0
    counts = times.value_counts().reindex(range(top + 1), fill_value=0)
    counts.index.name = "deliveries"
    return counts.rename("messages").astype("int64")


def empty_receive_ratio(polls: pd.DataFrame) -> float:
    """Share of receive calls that returned no message.

    Returns ``nan`` when there were no receive calls.
    """
    polls = _table(polls, ["empty"], "polls")
    if len(polls) == 0:
        return math.nan
    return int(polls["empty"].astype(bool).sum()) / len(polls)


def messages_per_receive(polls: pd.DataFrame) -> pd.Series:
    """How many receive calls returned 0, 1, ..., 10 messages.

    Returns:
        Counts of receive calls indexed by messages returned, 0 to 10 (further
        if a call somehow returned more), with no gaps.
    """
    polls = _table(polls, ["returned"], "polls")

    returned = polls["returned"].astype("int64")
    top = max(_MAX_PER_RECEIVE, int(returned.max()) if len(returned) else 0)
    counts = returned.value_counts().reindex(range(top + 1), fill_value=0)
    counts.index.name = "returned"
    return counts.rename("receive_calls").astype("int64")


def summarize(
    sends: pd.DataFrame,
    deliveries: pd.DataFrame,
    polls: pd.DataFrame,
    *,
    backend: str,
    seed: int | None,
    elapsed_s: float,
) -> dict[str, Any]:
    """The run's summary: the keys of ``records.SUMMARY_KEYS``, in that order.

    Values are plain Python (int, float, str, None, dict), so the result goes
    straight to :func:`json.dumps`, and the same tables give the same summary.
    ``latency_ms`` holds first-receipt percentiles rounded to 0.1 ms, each
    None when nothing was received; ``elapsed_s`` is rounded to 1 ms.
    ``deliveries`` counts every row, foreign ones too; ``duplicates`` and
    ``missing`` count only messages sent in this run (see :class:`Ledger`).
    ``inversions`` and ``latency_ms`` use the first receipts of this run's
    messages only: a foreign message has no place in the send order and no
    send time of this run (all of them carry seq -1).
    ``adjacent_inversion_ratio`` is rounded to 4 decimals.
    """
    counts = ledger(sends, deliveries)
    own = _own_deliveries(sends, deliveries)
    order = receive_order(own)
    latency = latency_percentiles(own, first_only=True)
    polls = _table(polls, ["empty"], "polls")
    logger.debug("summarising %s deliveries from %s polls", len(deliveries), len(polls))

    summary: dict[str, Any] = {
        "backend": str(backend),
        "messages_sent": counts.sent,
        "unique_delivered": counts.unique_delivered,
        "deliveries": counts.deliveries,
        "duplicates": counts.duplicates,
        "missing": counts.missing,
        "inversions": count_inversions(order),
        "adjacent_inversion_ratio": round(adjacent_inversion_ratio(order), 4),
        "latency_ms": {key: _rounded(value, 1) for key, value in latency.items()},
        "receive_calls": len(polls),
        "empty_receives": int(polls["empty"].astype(bool).sum()),
        "elapsed_s": round(float(elapsed_s), 3),
        "seed": None if seed is None else int(seed),
    }
    return {key: summary[key] for key in SUMMARY_KEYS}


def inversions_within_groups(sends: pd.DataFrame, deliveries: pd.DataFrame) -> int:
    """Inversions counted inside each message group, summed over the groups.

    A FIFO queue promises order within a MessageGroupId only, so this is the
    figure that must be 0 there; pairs from different groups do not count.
    Messages without a group (standard queues) form one group.
    """
    sends = _table(sends, ["seq", "sent", "group_id"], "sends")
    group_of = dict(zip(sends["seq"].astype("int64"), sends["group_id"], strict=True))
    by_group: dict[Any, list[int]] = {}
    for seq in receive_order(_own_deliveries(sends, deliveries)):
        by_group.setdefault(group_of.get(seq), []).append(seq)
    return sum(count_inversions(seqs) for seqs in by_group.values())


def _own_deliveries(sends: pd.DataFrame, deliveries: pd.DataFrame) -> pd.DataFrame:
    """The delivery rows of messages this run sent (foreign rows left out)."""
    sends = _table(sends, ["seq", "sent"], "sends")
    deliveries = _table(deliveries, ["seq"], "deliveries")
    sent_seqs = sends.loc[sends["sent"].eq(True), "seq"].astype("int64")
    return deliveries[deliveries["seq"].astype("int64").isin(sent_seqs)]


def _rounded(value: float, digits: int) -> float | None:
    """``value`` rounded, or None for nan (JSON has no nan)."""
    if math.isnan(value):
        return None
    return round(value, digits)
