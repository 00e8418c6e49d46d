"""Tests of the notebook helpers in labsupport.lab: costs and display."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from labsupport import connect, send_batches
from labsupport.experiment.records import POLL_COLUMNS, SEND_COLUMNS
from labsupport.lab import brief, caught, costs, queue_depth, setup


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
