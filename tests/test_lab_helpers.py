"""Tests of the notebook helpers in labsupport.lab: costs and display."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pandas as pd
import pytest

from labsupport import connect, send_batches
from labsupport.errors import InvalidParameter
from labsupport.experiment.records import DELIVERY_COLUMNS, POLL_COLUMNS, SEND_COLUMNS
from labsupport.lab import (
    brief,
    caught,
    costs,
    model_only,
    polling,
    queue_depth,
    setup,
)


@pytest.mark.parametrize(
    ("payload", "billed"),
    [(1, 1), (65_536, 1), (65_537, 2), (200 * 1024, 4), (1_048_576, 16)],
)
def test_each_64_kib_chunk_is_billed_as_a_request(payload, billed):
    assert costs.billed_requests(payload) == billed


def test_count_requests_reads_batches_receives_and_deletes():
    # GIVEN 12 messages sent in two batch calls (b0: 10, b1: 2), 100 bytes each
    sends = pd.DataFrame(
        [
            {
                "seq": i,
                "entry_id": f"b{i // 10}-{i % 10}",
                "sent": True,
                "body_bytes": 100,
                "attempts": 1,
            }
            for i in range(12)
        ],
        columns=SEND_COLUMNS,
    )
    # AND three receive calls, one empty
    polls = pd.DataFrame(
        [{"poll": i, "returned": n, "empty": n == 0} for i, n in enumerate([10, 2, 0])],
        columns=POLL_COLUMNS,
    )

    count = costs.count_requests(sends, polls)

    assert (count.send, count.receive, count.delete) == (2, 3, 2)
    assert count.per_message == pytest.approx(7 / 12)
    assert costs.dollars(1_000_000) == pytest.approx(0.40)


def test_brief_drops_ids_and_shows_times_from_the_start():
    table = pd.DataFrame(
        {"seq": [0, 1], "message_id": ["a", "b"], "send_time": [100.0, 100.25]}
    )

    shown = brief(table)

    assert list(shown.columns) == ["seq", "send_time"]
    assert list(shown["send_time"]) == [0.0, 0.25]
    assert list(table.columns) == ["seq", "message_id", "send_time"]


def test_caught_prints_a_kit_error_on_one_line(capsys):
    with connect("sim", seed=1) as conn, caught():
        send_batches(conn, conn.create_queue("q"), ["x"], batch_size=11)

    printed = capsys.readouterr().out
    assert printed.startswith("InvalidParameter: Invalid batch size")
    assert printed.count("\n") == 1


def test_caught_prints_a_service_error_with_its_code(capsys):
    eleven = [{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)]
    with connect("sim", seed=1) as conn, caught():
        url = conn.create_queue("q")
        conn.client.send_message_batch(QueueUrl=url, Entries=eleven)

    assert "TooManyEntriesInBatchRequest" in capsys.readouterr().out


def test_caught_says_when_nothing_failed(capsys):
    with caught():
        pass

    assert capsys.readouterr().out == "no error\n"


def test_queue_depth_counts_visible_and_in_flight():
    with connect("sim", seed=1) as conn:
        url = conn.create_queue("q")
        conn.client.send_message(QueueUrl=url, MessageBody="a")
        conn.client.send_message(QueueUrl=url, MessageBody="b")
        conn.clock.sleep(1)  # past the modelled propagation delay
        conn.client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1
        )

        depth = queue_depth(conn, url)

    assert depth == {"visible": 1, "in flight": 1, "delayed": 0}


def test_setup_adds_one_handler_however_often_it_runs():
    kit = logging.getLogger("labsupport")
    before, level = list(kit.handlers), kit.level
    try:
        setup()
        setup()
        added = [h for h in kit.handlers if h not in before]
        assert len(added) == 1
        assert kit.level == logging.WARNING
    finally:
        for handler in set(kit.handlers) - set(before):
            kit.removeHandler(handler)
        kit.setLevel(level)


# -- polling: a trickle of traffic --------------------------------------------------


def hand_run() -> SimpleNamespace:
    """3 messages: sent at 100 s with delays 0, 2, 2; five receive calls.

    Calls (end times 100.5, 101.5, 102.5, 103.5, 104.5) return 1, 0, 2, 0, 0:
    the last new messages come on call 2, calls 3 and 4 are the stop rule's.
    """
    sends = pd.DataFrame(
        {
            "seq": [0, 1, 2],
            "entry_id": ["b0-0", "b0-1", "b0-2"],
            "sent": [True] * 3,
            "send_time": [100.0] * 3,
            "body_bytes": [100] * 3,
            "delay_s": [0, 2, 2],
        }
    )
    polls = pd.DataFrame(
        [
            {"poll": i, "end_time": 100.5 + i, "returned": n, "empty": n == 0}
            for i, n in enumerate([1, 0, 2, 0, 0])
        ],
        columns=POLL_COLUMNS,
    )
    deliveries = pd.DataFrame(
        [
            {"seq": 0, "receive_time": 100.5, "poll": 0, "position": 0},
            {"seq": 1, "receive_time": 102.5, "poll": 2, "position": 0},
            {"seq": 2, "receive_time": 102.5, "poll": 2, "position": 1},
        ],
        columns=DELIVERY_COLUMNS,
    )
    return SimpleNamespace(sends=sends, deliveries=deliveries, polls=polls, summary={})


def test_polls_until_last_stops_at_the_call_with_the_last_new_message():
    assert list(polling.polls_until_last(hand_run())["poll"]) == [0, 1, 2]


def test_after_due_counts_latency_from_the_end_of_the_delay():
    # seq 0 due at 100.0, received at 100.5; seqs 1 and 2 due at 102.0, at 102.5
    assert list(polling.after_due(hand_run())["latency_ms"]) == [500.0] * 3


def test_polling_table_splits_waiting_from_the_stop_rule():
    row = polling.polling_table({"hand": hand_run()}).loc["hand"]

    assert row["receive calls"] == 5
    assert row["empty"] == 3
    assert row["empty before last"] == 1  # call 1
    assert row["added by stop"] == 2  # calls 3 and 4


def test_cost_table_can_leave_out_the_idle_calls():
    runs = {"hand": hand_run()}

    every = costs.cost_table(runs).loc["hand"]
    busy = costs.cost_table(runs, include_idle=False).loc["hand"]

    # one send call, two deletes (calls 0 and 2); 5 receives, or 3 without idle
    assert (every["receive"], busy["receive"]) == (5, 3)
    assert every["per message"] == pytest.approx((1 + 5 + 2) / 3, abs=0.001)
    assert busy["per message"] == pytest.approx((1 + 3 + 2) / 3, abs=0.001)


def test_trickle_on_sim_receives_every_message_after_its_delay():
    with connect("sim", seed=4) as conn:
        run = polling.trickle(conn, messages=8, over_s=10, wait_time=20, seed=4)

    delays = list(run.sends["delay_s"])
    assert delays == sorted(delays)
    assert all(0 <= d <= 10 for d in delays)
    assert sorted(run.deliveries["seq"].unique()) == list(range(8))
    assert (polling.after_due(run)["latency_ms"] > 0).all()
    assert run.summary["stopped_because"] == "all expected messages received"
    assert isinstance(run.summary["false_empties"], int)


def test_trickle_short_polls_make_empty_calls_while_waiting():
    with connect("sim", seed=4) as conn:
        run = polling.trickle(conn, messages=4, over_s=10, wait_time=0, seed=4)

    row = polling.polling_table({"short": run}).loc["short"]
    # 0.2 s pauses between empty short polls over up to 10 s of delays
    assert row["empty before last"] > 4
    assert row["added by stop"] > 0  # 20 s of listening after the last one


def test_trickle_elsewhere_has_no_false_empty_count():
    with connect("moto") as conn:
        run = polling.trickle(conn, messages=2, over_s=0, wait_time=1, idle_s=0)

    assert run.summary["false_empties"] is None
    assert sorted(run.deliveries["seq"]) == [0, 1]


@pytest.mark.parametrize(
    ("options", "word"),
    [({"over_s": 901}, "DelaySeconds"), ({"idle_s": -1}, "idle time")],
)
def test_trickle_checks_its_span_and_idle_time(options, word):
    with connect("sim", seed=1) as conn, pytest.raises(InvalidParameter, match=word):
        polling.trickle(conn, **options)


def test_model_only_is_silent_on_the_sim_model(capsys):
    with connect("sim", seed=1) as conn:
        assert model_only(conn, "it waits 5 minutes")

    assert capsys.readouterr().out == ""


def test_model_only_skips_elsewhere_with_one_line(capsys):
    with connect("moto") as conn:
        assert not model_only(conn, "it waits 5 minutes")

    assert capsys.readouterr().out == "skipped on moto: it waits 5 minutes\n"
