"""Tests of labsupport.metrics on small tables counted by hand."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from itertools import pairwise
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport import metrics
from labsupport.errors import LabError
from labsupport.experiment.records import (
    DELIVERY_COLUMNS,
    POLL_COLUMNS,
    SEND_COLUMNS,
    SUMMARY_KEYS,
)

# ---------------------------------------------------------------- builders


def make_sends(sent_flags: list[bool]) -> pd.DataFrame:
    """One send row per flag; seq is the row number, send_time 100 s."""
    rows = [
        {
            "seq": seq,
            "entry_id": f"e{seq}",
            "message_id": f"m{seq}" if sent else None,
            "sent": sent,
            "send_time": 100.0,
            "body_bytes": 10,
            "attempts": 1,
            "error_code": None if sent else "InternalError",
            "group_id": None,
        }
        for seq, sent in enumerate(sent_flags)
    ]
    return pd.DataFrame(rows, columns=SEND_COLUMNS)


def make_deliveries(rows: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    """Rows of (seq, poll, position, latency_ms), in the order given."""
    records = [
        {
            "seq": seq,
            "message_id": f"m{seq}",
            "receive_count": 1,
            "receive_time": 100.0 + latency / 1000,
            "poll": poll,
            "position": position,
            "latency_ms": latency,
            "deleted": True,
        }
        for seq, poll, position, latency in rows
    ]
    return pd.DataFrame(records, columns=DELIVERY_COLUMNS)


def in_order(seqs: list[int], latency: float = 10.0) -> pd.DataFrame:
    """Deliveries of ``seqs`` in that receive order, 10 per poll."""
    return make_deliveries(
        [(seq, i // 10, i % 10, latency) for i, seq in enumerate(seqs)]
    )


def make_polls(returned: list[int]) -> pd.DataFrame:
    rows = [
        {
            "poll": i,
            "start_time": 100.0 + i,
            "end_time": 100.5 + i,
            "wait_time_s": 0,
            "max_messages": 10,
            "returned": n,
            "empty": n == 0,
        }
        for i, n in enumerate(returned)
    ]
    return pd.DataFrame(rows, columns=POLL_COLUMNS)


NO_DELIVERIES = pd.DataFrame(columns=DELIVERY_COLUMNS)
NO_POLLS = pd.DataFrame(columns=POLL_COLUMNS)


def brute_inversions(seq: list[int]) -> int:
    return sum(
        1 for i in range(len(seq)) for j in range(i + 1, len(seq)) if seq[i] > seq[j]
    )


# ---------------------------------------------------------------- public names


def test_public_names_are_the_documented_ones() -> None:
    assert sorted(metrics.__all__) == [
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
    assert all(hasattr(metrics, name) for name in metrics.__all__)


# ---------------------------------------------------------------- receive order


def test_first_deliveries_keeps_the_earliest_copy_by_poll_then_position() -> None:
    # GIVEN rows listed out of receive order; seq 4 arrives at (0, 1) and (2, 0)
    deliveries = make_deliveries(
        [(4, 2, 0, 900.0), (7, 1, 0, 50.0), (4, 0, 1, 20.0), (5, 0, 0, 15.0)]
    )

    first = metrics.first_deliveries(deliveries)

    assert first["seq"].tolist() == [5, 4, 7]
    assert first["latency_ms"].tolist() == [15.0, 20.0, 50.0]
    assert list(first.columns) == DELIVERY_COLUMNS


def test_receive_order_sorts_by_poll_then_position() -> None:
    deliveries = make_deliveries(
        [(3, 1, 1, 1.0), (2, 0, 1, 1.0), (1, 1, 0, 1.0), (0, 0, 0, 1.0)]
    )

    assert metrics.receive_order(deliveries) == [0, 2, 1, 3]


def test_receive_order_lists_a_redelivered_message_once() -> None:
    deliveries = in_order([0, 1, 0, 2, 1])

    assert metrics.receive_order(deliveries) == [0, 1, 2]


def test_receive_order_of_no_deliveries_is_empty() -> None:
    assert metrics.receive_order(NO_DELIVERIES) == []


def test_a_table_with_rows_but_no_position_column_is_refused() -> None:
    deliveries = in_order([0, 1]).drop(columns=["position"])

    with pytest.raises(metrics.ColumnsMissing, match="missing position") as caught:
        metrics.receive_order(deliveries)
    assert caught.value.table == "deliveries"
    assert isinstance(caught.value, LabError)


def test_an_empty_table_without_columns_counts_as_no_deliveries() -> None:
    assert metrics.receive_order(pd.DataFrame()) == []


# ---------------------------------------------------------------- inversions


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        ([0, 2, 1, 3], 1),
        ([3, 2, 1, 0], 6),
        ([0, 1, 2, 3], 0),
        ([], 0),
        ([5], 0),
        ([1, 1, 1], 0),
        ([2, 1, 2, 1], 3),  # pairs (0,1), (0,3), (2,3)
        ([1, 0, 3, 2, 5, 4], 3),
        ([10**12, -(10**12), 0], 2),
    ],
)
def test_count_inversions_on_hand_counted_lists(seq: list[int], expected: int) -> None:
    assert metrics.count_inversions(seq) == expected


def test_count_inversions_of_a_reversed_run_is_n_choose_2() -> None:
    n = 1000

    assert metrics.count_inversions(list(range(n - 1, -1, -1))) == n * (n - 1) // 2


def test_count_inversions_refuses_a_table_of_two_dimensions() -> None:
    with pytest.raises(metrics.InvalidSequence, match="one-dimensional") as caught:
        metrics.count_inversions([[1, 0], [0, 1]])
    assert caught.value.shape == (2, 2)


@given(st.lists(st.integers(min_value=-20, max_value=20), max_size=60))
def test_count_inversions_matches_a_pairwise_count(seq: list[int]) -> None:
    assert metrics.count_inversions(seq) == brute_inversions(seq)


@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=60))
def test_count_inversions_matches_a_pairwise_count_on_wide_values(
    seq: list[int],
) -> None:
    assert metrics.count_inversions(seq) == brute_inversions(seq)


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        ([0, 2, 1, 3], 1 / 3),
        ([3, 2, 1, 0], 1.0),
        ([0, 1, 2, 3], 0.0),
        ([1, 1], 0.0),
        ([7], 0.0),
        ([], 0.0),
    ],
)
def test_adjacent_inversion_ratio_on_hand_counted_lists(
    seq: list[int], expected: float
) -> None:
    assert metrics.adjacent_inversion_ratio(seq) == pytest.approx(expected)


@given(st.lists(st.integers(min_value=-5, max_value=5), min_size=2, max_size=60))
def test_adjacent_inversion_ratio_matches_a_pairwise_count(seq: list[int]) -> None:
    descents = sum(1 for a, b in pairwise(seq) if a > b)

    ratio = metrics.adjacent_inversion_ratio(seq)

    assert ratio == pytest.approx(descents / (len(seq) - 1))


# ---------------------------------------------------------------- latency


def test_latency_percentiles_interpolate_between_ranks() -> None:
    # GIVEN ten first receipts at 10, 20, ... 100 ms: rank of p is p * 9
    deliveries = in_order(list(range(10)))
    deliveries["latency_ms"] = [10.0 * (i + 1) for i in range(10)]

    found = metrics.latency_percentiles(deliveries)

    assert found == pytest.approx({"p50": 55.0, "p90": 91.0, "p99": 99.1, "max": 100.0})


def test_latency_percentiles_leave_out_redeliveries_unless_asked() -> None:
    # GIVEN the same ten receipts and a redelivery of seq 0 after 5 s
    deliveries = in_order([*range(10), 0])
    deliveries["latency_ms"] = [*(10.0 * (i + 1) for i in range(10)), 5000.0]

    first = metrics.latency_percentiles(deliveries)
    every = metrics.latency_percentiles(deliveries, first_only=False)

    assert first["max"] == 100.0
    # eleven values: p50 is rank 5 exactly, the sixth value
    assert every == pytest.approx(
        {"p50": 60.0, "p90": 100.0, "p99": 4510.0, "max": 5000.0}
    )


def test_latency_percentiles_of_no_deliveries_are_nan() -> None:
    found = metrics.latency_percentiles(NO_DELIVERIES)

    assert list(found) == ["p50", "p90", "p99", "max"]
    assert all(math.isnan(value) for value in found.values())


def test_latency_percentiles_skip_rows_without_a_latency() -> None:
    deliveries = in_order([0, 1, 2])
    deliveries["latency_ms"] = [4.0, None, 8.0]

    assert metrics.latency_percentiles(deliveries)["p50"] == pytest.approx(6.0)


# ---------------------------------------------------------------- ledger


def test_ledger_counts_a_hand_made_run() -> None:
    # GIVEN seq 0, 1, 3 accepted and seq 2 refused; received in that order:
    # 1, 0, 1 again, 9 (never sent here) and 2 (reported as refused)
    sends = make_sends([True, True, False, True])
    deliveries = in_order([1, 0, 1, 9, 2])

    counts = metrics.ledger(sends, deliveries)

    assert counts == metrics.Ledger(
        sent=3,
        unique_delivered=2,
        deliveries=5,
        duplicates=1,
        duplicated_messages=1,
        missing=1,
        not_sent=1,
        foreign=2,
    )
    assert counts.balanced


def test_ledger_is_frozen() -> None:
    counts = metrics.ledger(make_sends([True]), in_order([0]))

    with pytest.raises(dataclasses.FrozenInstanceError):
        counts.sent = 5  # type: ignore[misc]


def test_a_ledger_that_loses_a_message_is_not_balanced() -> None:
    counts = metrics.Ledger(
        sent=3,
        unique_delivered=1,
        deliveries=1,
        duplicates=0,
        duplicated_messages=0,
        missing=1,
        not_sent=0,
        foreign=0,
    )

    assert not counts.balanced


def test_ledger_of_a_run_with_nothing_received() -> None:
    counts = metrics.ledger(make_sends([True, True]), NO_DELIVERIES)

    assert (counts.sent, counts.missing, counts.deliveries) == (2, 2, 0)
    assert counts.balanced


send_flags = st.lists(st.booleans(), max_size=30)


@given(send_flags, st.lists(st.integers(min_value=-3, max_value=33), max_size=60))
def test_ledger_always_balances(flags: list[bool], received: list[int]) -> None:
    sends = make_sends(flags)
    deliveries = in_order(received)
    sent = {seq for seq, ok in enumerate(flags) if ok}
    copies = Counter(seq for seq in received if seq in sent)

    counts = metrics.ledger(sends, deliveries)

    assert counts.balanced
    assert counts.sent == len(sent)
    assert counts.unique_delivered == len(copies)
    assert counts.duplicates == sum(copies.values()) - len(copies)
    assert counts.duplicated_messages == sum(1 for n in copies.values() if n > 1)
    assert counts.foreign == sum(1 for seq in received if seq not in sent)
    assert counts.not_sent == len(flags) - len(sent)


# ---------------------------------------------------------------- distributions


def test_deliveries_per_message_counts_missing_as_zero() -> None:
    # GIVEN seq 0 received three times, 1 and 2 once, 3 never
    sends = make_sends([True, True, True, True])
    deliveries = in_order([0, 0, 1, 0, 2])

    counts = metrics.deliveries_per_message(sends, deliveries)

    assert counts.to_dict() == {0: 1, 1: 2, 2: 0, 3: 1}


def test_empty_receive_ratio_is_the_share_of_empty_calls() -> None:
    assert metrics.empty_receive_ratio(make_polls([0, 3, 10, 1])) == 0.25


def test_empty_receive_ratio_without_calls_is_nan() -> None:
    assert math.isnan(metrics.empty_receive_ratio(NO_POLLS))


def test_messages_per_receive_counts_every_size_from_0_to_10() -> None:
    counts = metrics.messages_per_receive(make_polls([0, 2, 2, 10, 0]))

    expected = dict.fromkeys(range(11), 0) | {0: 2, 2: 2, 10: 1}
    assert counts.to_dict() == expected


# ---------------------------------------------------------------- summary


def plain(value: Any) -> bool:
    """True when ``value`` is built only of the plain JSON-able types."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return value is None or type(value) in (int, float, str)


def small_run() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    # seq 0..4 sent; received 1, 0, 2, 1 again, 4 over three polls; 3 missing
    sends = make_sends([True] * 5)
    deliveries = make_deliveries(
        [
            (1, 0, 0, 12.34),
            (0, 0, 1, 20.0),
            (2, 1, 0, 30.0),
            (1, 2, 0, 3000.0),
            (4, 2, 1, 40.0),
        ]
    )
    return sends, deliveries, make_polls([2, 1, 0, 2])


def test_summarize_returns_the_summary_keys_in_order() -> None:
    summary = metrics.summarize(*small_run(), backend="sim", seed=7, elapsed_s=1.23456)

    assert list(summary) == SUMMARY_KEYS


def test_summarize_counts_a_small_run() -> None:
    summary = metrics.summarize(*small_run(), backend="sim", seed=7, elapsed_s=1.23456)

    # first receipts 12.34, 20, 30, 40 ms: ranks 1.5, 2.7 and 2.97 of 0..3
    assert summary == {
        "backend": "sim",
        "messages_sent": 5,
        "unique_delivered": 4,
        "deliveries": 5,
        "duplicates": 1,
        "missing": 1,
        "inversions": 1,
        "adjacent_inversion_ratio": round(1 / 3, 4),
        "latency_ms": {"p50": 25.0, "p90": 37.0, "p99": 39.7, "max": 40.0},
        "receive_calls": 4,
        "empty_receives": 1,
        "elapsed_s": 1.235,
        "seed": 7,
    }


def test_summary_is_plain_json_and_repeatable() -> None:
    first = metrics.summarize(*small_run(), backend="sim", seed=None, elapsed_s=0.5)
    again = metrics.summarize(*small_run(), backend="sim", seed=None, elapsed_s=0.5)

    assert plain(first)
    assert json.loads(json.dumps(first)) == first
    assert json.dumps(first) == json.dumps(again)


def test_summary_of_a_run_with_nothing_received_has_no_latency() -> None:
    summary = metrics.summarize(
        make_sends([True, True]),
        NO_DELIVERIES,
        make_polls([0, 0]),
        backend="moto",
        seed=None,
        elapsed_s=2.0,
    )

    assert summary["latency_ms"] == {"p50": None, "p90": None, "p99": None, "max": None}
    assert (summary["missing"], summary["empty_receives"]) == (2, 2)
    assert json.loads(json.dumps(summary)) == summary


def test_summarize_leaves_its_tables_unchanged() -> None:
    sends, deliveries, polls = small_run()
    copies = (sends.copy(), deliveries.copy(), polls.copy())

    metrics.summarize(sends, deliveries, polls, backend="sim", seed=1, elapsed_s=1.0)

    for table, copy in zip((sends, deliveries, polls), copies, strict=True):
        pd.testing.assert_frame_equal(table, copy)


@settings(max_examples=50)
@given(send_flags, st.lists(st.integers(min_value=0, max_value=30), max_size=40))
def test_summary_always_dumps_to_json(flags: list[bool], received: list[int]) -> None:
    summary = metrics.summarize(
        make_sends(flags),
        in_order(received),
        make_polls([1] * len(received)),
        backend="sim",
        seed=3,
        elapsed_s=0.25,
    )

    assert list(summary) == SUMMARY_KEYS
    assert plain(summary)
    assert json.loads(json.dumps(summary)) == summary


def test_foreign_deliveries_leave_ordering_and_latency_alone() -> None:
    # Receive order 0, foreign, 1, foreign, 2: our three came in order.
    deliveries = make_deliveries(
        [
            (0, 0, 0, 10.0),
            (-1, 0, 1, float("nan")),
            (1, 0, 2, 20.0),
            (-1, 1, 0, float("nan")),
            (2, 1, 1, 30.0),
        ]
    )
    summary = metrics.summarize(
        make_sends([True, True, True]),
        deliveries,
        make_polls([3, 2]),
        backend="test",
        seed=None,
        elapsed_s=1.0,
    )
    assert summary["inversions"] == 0
    assert summary["adjacent_inversion_ratio"] == 0.0
    assert summary["latency_ms"]["max"] == 30.0
    assert summary["deliveries"] == 5
    assert (summary["unique_delivered"], summary["duplicates"]) == (3, 0)


def test_inversions_within_groups_ignore_pairs_across_groups() -> None:
    sends = make_sends([True] * 4)
    sends["group_id"] = ["a", "b", "a", "b"]
    # received 1, 0, 3, 2: group a sees 0 then 2, group b sees 1 then 3
    deliveries = in_order([1, 0, 3, 2])
    assert metrics.count_inversions([1, 0, 3, 2]) == 2
    assert metrics.inversions_within_groups(sends, deliveries) == 0
    # received 2, 0: group a out of order
    assert metrics.inversions_within_groups(sends, in_order([2, 0, 1, 3])) == 1
