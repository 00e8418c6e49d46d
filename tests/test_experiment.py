"""Batch sending, repeated receiving and whole experiments."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from labsupport import Connection, connect, run_experiment
from labsupport.clock import VirtualClock
from labsupport.errors import InvalidParameter, LimitError, MessageTooLarge
from labsupport.experiment import (
    Receiver,
    make_bodies,
    receive_repeatedly,
    send_batches,
)
from labsupport.experiment.send import Sender

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


def _stubbed(max_size: int = 1_048_576) -> tuple[Connection, Stubber]:
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    stub = Stubber(client)
    stub.add_response(
        "get_queue_attributes", {"Attributes": {"MaximumMessageSize": str(max_size)}}
    )
    return Connection(backend="stub", client=client, clock=VirtualClock()), stub


def _ok(*ids: str) -> dict:
    return {"Id": ids[0], "MessageId": ids[1], "MD5OfMessageBody": "0" * 32}


def test_make_bodies_are_distinct_and_exact_size() -> None:
    bodies = make_bodies(25, 40, "r1")
    assert len(set(bodies)) == 25
    assert {len(b.encode()) for b in bodies} == {40}


def test_batches_hold_at_most_batch_size_entries(moto_conn) -> None:
    url = moto_conn.create_queue("batches")
    calls: list[int] = []
    moto_conn.client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: calls.append(len(params["Entries"])),
    )
    result = send_batches(moto_conn, url, make_bodies(23), batch_size=7)
    assert calls == [7, 7, 7, 2]
    assert result.sent == 23
    assert result.failed == []
    assert list(result.sends["seq"]) == list(range(23))
    assert result.sends["message_id"].notna().all()


def test_batches_split_to_stay_under_one_mebibyte(moto_conn) -> None:
    url = moto_conn.create_queue("big")
    calls: list[int] = []
    moto_conn.client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch",
        lambda params, **_: calls.append(len(params["Entries"])),
    )
    # 5 bodies of 300 KB: three fit under 1 MiB (900 KB + stamps), not four.
    result = send_batches(moto_conn, url, make_bodies(5, 300_000))
    assert calls == [3, 2]
    assert result.sent == 5


def test_oversize_body_is_refused_before_anything_is_sent() -> None:
    conn, stub = _stubbed(max_size=1024)
    with stub, pytest.raises(MessageTooLarge) as info:
        send_batches(conn, URL, ["ok", "x" * 2000])
    stub.assert_no_pending_responses()  # only the attribute read happened
    assert "1,024 bytes" in str(info.value)


@pytest.mark.parametrize("size", [0, 11])
def test_batch_size_out_of_range_is_refused(moto_conn, size) -> None:
    url = moto_conn.create_queue("bs")
    with pytest.raises(InvalidParameter, match="1 to 10"):
        send_batches(moto_conn, url, ["a"], batch_size=size)


def test_retryable_failed_entries_are_sent_again() -> None:
    conn, stub = _stubbed()
    stub.add_response(
        "send_message_batch",
        {
            "Successful": [_ok("b0-0", "m0")],
            "Failed": [
                {"Id": "b0-1", "SenderFault": False, "Code": "InternalError"},
            ],
        },
        {"QueueUrl": URL, "Entries": ANY},
    )
    stub.add_response(
        "send_message_batch",
        {"Successful": [_ok("b1-0", "m1")], "Failed": []},
        {"QueueUrl": URL, "Entries": ANY},
    )
    with stub:
        result = send_batches(conn, URL, ["a", "b"])
    stub.assert_no_pending_responses()
    assert result.sent == 2
    assert list(result.sends["attempts"]) == [1, 2]
    assert list(result.sends["message_id"]) == ["m0", "m1"]


def test_sender_faults_are_reported_not_retried() -> None:
    conn, stub = _stubbed()
    stub.add_response(
        "send_message_batch",
        {
            "Successful": [_ok("b0-1", "m1")],
            "Failed": [
                {
                    "Id": "b0-0",
                    "SenderFault": True,
                    "Code": "InvalidParameterValue",
                    "Message": "no",
                }
            ],
        },
    )
    with stub:
        result = send_batches(conn, URL, ["a", "b"])
    assert result.sent == 1
    assert [(f["seq"], f["error_code"]) for f in result.failed] == [
        (0, "InvalidParameterValue")
    ]


def test_an_entry_that_keeps_failing_is_given_up_and_reported() -> None:
    conn, stub = _stubbed()
    for attempt in range(3):
        stub.add_response(
            "send_message_batch",
            {
                "Successful": [],
                "Failed": [
                    {
                        "Id": f"b{attempt}-0",
                        "SenderFault": False,
                        "Code": "InternalError",
                    }
                ],
            },
        )
    with stub:
        result = send_batches(conn, URL, ["a"], max_attempts=3)
    stub.assert_no_pending_responses()
    assert result.sent == 0
    assert result.failed[0]["attempts"] == 3
    assert result.failed[0]["error_code"] == "InternalError"
    assert conn.clock.now() > VirtualClock().now()  # it backed off in between


def test_throttled_batch_call_is_retried_whole() -> None:
    conn, stub = _stubbed()
    stub.add_client_error(
        "send_message_batch", "RequestThrottled", http_status_code=400
    )
    stub.add_response(
        "send_message_batch",
        {"Successful": [_ok("b1-0", "m0")], "Failed": []},
    )
    with stub:
        result = send_batches(conn, URL, ["a"])
    assert result.sent == 1


def test_non_retryable_batch_call_error_is_raised() -> None:
    conn, stub = _stubbed()
    stub.add_client_error(
        "send_message_batch", "AWS.SimpleQueueService.NonExistentQueue"
    )
    with stub:
        sender = Sender(conn, URL, ["a", "b"])
        with pytest.raises(ClientError, match="NonExistentQueue"):
            sender.send_next()
    assert (
        sender.result().sends["error_code"].tolist()
        == ["AWS.SimpleQueueService.NonExistentQueue"] * 2
    )


def test_receive_records_every_delivery_and_poll(moto_conn) -> None:
    url = moto_conn.create_queue("recv")
    send_batches(moto_conn, url, make_bodies(15))
    result = receive_repeatedly(moto_conn, url, expected=15, wait_time=1)
    got = result.deliveries
    assert sorted(got["seq"]) == list(range(15))
    assert got["deleted"].all()
    assert (got["receive_count"] == 1).all()
    assert (got["latency_ms"] >= 0).all()
    assert result.polls["returned"].sum() == 15
    assert result.stopped_because == "all expected messages received"


def test_without_delete_messages_come_back_with_a_higher_count(moto_conn) -> None:
    url = moto_conn.create_queue("redeliver")
    send_batches(moto_conn, url, make_bodies(3))
    receiver = Receiver(moto_conn, url, wait_time=0, visibility_timeout=0, delete=False)
    first = receiver.poll()
    second = receiver.poll()
    assert {r["receive_count"] for r in first} == {1}
    assert {r["receive_count"] for r in second} == {2}
    assert {r["message_id"] for r in first} == {r["message_id"] for r in second}


def test_messages_of_other_runs_are_marked_foreign(moto_conn) -> None:
    url = moto_conn.create_queue("foreign")
    moto_conn.client.send_message(QueueUrl=url, MessageBody="not ours")
    result = receive_repeatedly(
        moto_conn, url, expected=1, wait_time=0, max_empty_polls=2
    )
    assert list(result.deliveries["seq"]) == [-1]
    assert result.deliveries["latency_ms"].isna().all()


def test_empty_polls_in_a_row_stop_the_loop(moto_conn) -> None:
    url = moto_conn.create_queue("empty")
    result = receive_repeatedly(
        moto_conn, url, wait_time=0, max_empty_polls=4, settle_s=0
    )
    assert len(result.polls) == 4
    assert result.stopped_because == "4 empty polls in a row"


def test_run_experiment_on_moto_accounts_for_every_message(moto_conn) -> None:
    result = run_experiment(moto_conn, messages=57, wait_time=1, seed=3)
    s = result.summary
    assert (s["messages_sent"], s["unique_delivered"], s["missing"]) == (57, 57, 0)
    assert s["duplicates"] == 0
    assert s["inversions"] == 0  # moto delivers in order
    assert len(result.sends) == 57


def test_run_experiment_fifo_groups_on_moto(moto_conn) -> None:
    result = run_experiment(
        moto_conn, messages=30, queue_type="fifo", groups=3, wait_time=1
    )
    assert result.summary["unique_delivered"] == 30
    assert set(result.sends["group_id"]) == {"0", "1", "2"}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("messages", 0),
        ("batch_size", 11),
        ("wait_time", 21),
        ("visibility_timeout", 43_201),
        ("queue_type", "priority"),
        ("groups", 0),
    ],
)
def test_run_experiment_checks_parameters_before_making_a_queue(
    moto_conn, option, value
) -> None:
    with pytest.raises(LimitError) as info:
        run_experiment(moto_conn, **{option: value})
    assert info.value.value == value
    assert moto_conn.client.list_queues().get("QueueUrls", []) == []


def test_result_save_writes_tables_summary_and_plots(moto_conn, tmp_path) -> None:
    result = run_experiment(moto_conn, messages=20, wait_time=1)
    written = result.save(tmp_path)
    names = {p.name for p in written}
    assert {"sends.csv", "deliveries.csv", "polls.csv", "summary.json"} <= names
    assert len([n for n in names if n.endswith(".png")]) >= 4


def test_run_experiment_never_waits_out_a_long_poll_on_a_drained_queue(
    moto_conn,
) -> None:
    result = run_experiment(moto_conn, messages=40, wait_time=20)
    polls = result.polls
    assert not (polls["empty"] & (polls["wait_time_s"] == 20)).any()
    assert result.summary["unique_delivered"] == 40


# -- runs that follow one another, and runs under faults (sim backend) --------


def test_a_second_fifo_run_on_one_connection_is_not_deduplicated_away() -> None:
    with connect("sim", seed=1) as conn:
        first = run_experiment(conn, messages=50, queue_type="fifo")
        second = run_experiment(conn, messages=50, queue_type="fifo", wait_time=0)
    for result in (first, second):
        assert result.summary["unique_delivered"] == 50
        assert result.summary["missing"] == 0


def test_leftovers_of_an_earlier_run_are_foreign_not_duplicates() -> None:
    with connect("sim", seed=1, preset="ideal") as conn:
        url = conn.create_queue("shared")
        run_experiment(
            conn,
            messages=20,
            queue_name="shared",
            delete=False,
            visibility_timeout=1,
            time_budget_s=0.5,
        )
        again = run_experiment(conn, messages=20, queue_name="shared")
    assert url.endswith("/shared")
    assert again.summary["duplicates"] == 0
    assert again.summary["unique_delivered"] == 20
    assert again.summary["deliveries"] > 20  # the leftovers came too
    assert again.summary["latency_ms"]["max"] == 0.0  # ideal: no latency


def test_timeouts_whose_answer_is_lost_keep_every_message_accounted_for() -> None:
    with connect(
        "sim", seed=3, preset="ideal", timeout_rate=0.3, lost_answer_share=1.0
    ) as conn:
        result = run_experiment(conn, messages=200)
    s = result.summary
    assert s["messages_sent"] == 200
    assert s["messages_sent"] == s["unique_delivered"] + s["missing"]
    assert s["missing"] == 0
    assert s["duplicates"] > 0  # resent batches that had been stored


def test_a_seeded_connection_gives_the_same_run_under_faults() -> None:
    summaries = []
    for _ in range(2):
        with connect("sim", seed=1, batch_entry_failure_rate=0.2) as conn:
            summary = run_experiment(conn, messages=200).summary
        summary.pop("elapsed_s")
        summaries.append(summary)
    assert summaries[0] == summaries[1]


def test_failed_deletes_are_retried_so_a_fifo_group_is_not_held() -> None:
    with connect("sim", seed=2, preset="ideal", batch_entry_failure_rate=0.3) as conn:
        result = run_experiment(conn, messages=100, queue_type="fifo")
    assert result.summary["unique_delivered"] == 100
    assert result.summary["stopped_because"] == "all expected messages received"


# -- bad input to the helpers ---------------------------------------------------


def test_a_string_is_not_a_list_of_bodies(moto_conn) -> None:
    url = moto_conn.create_queue("str")
    with pytest.raises(InvalidParameter, match=r"\[body\]"):
        send_batches(moto_conn, url, "hello")


@pytest.mark.parametrize(
    ("group_ids", "words"),
    [
        (["a"], "one value per message"),
        (["a", "b c"], "MessageGroupId"),
        (["a", "x" * 129], "MessageGroupId"),
    ],
)
def test_group_ids_are_checked_before_sending(moto_conn, group_ids, words) -> None:
    url = moto_conn.create_queue("groups", fifo=True)
    with pytest.raises(InvalidParameter, match=words):
        send_batches(moto_conn, url, ["a", "b"], group_ids=group_ids)


def test_group_ids_on_a_standard_queue_are_refused(moto_conn) -> None:
    url = moto_conn.create_queue("plain")
    with pytest.raises(InvalidParameter, match="FIFO queues only"):
        send_batches(moto_conn, url, ["a"], group_ids=["g"])


def test_oversize_body_error_names_the_message(moto_conn) -> None:
    url = moto_conn.create_queue("which", attributes={"MaximumMessageSize": "1024"})
    with pytest.raises(MessageTooLarge, match="message 1"):
        send_batches(moto_conn, url, ["ok", "x" * 1024])


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("groups", 4, "FIFO"),
        ("payload_bytes", 1_048_576, "lab.* attributes"),
        ("time_budget_s", 0, "time budget"),
        ("messages", 2_000_000, "at most"),
    ],
)
def test_more_experiment_checks_come_before_the_queue(
    moto_conn, option, value, words
) -> None:
    with pytest.raises(InvalidParameter, match=words):
        run_experiment(moto_conn, **{option: value})
    assert moto_conn.client.list_queues().get("QueueUrls", []) == []


def test_zero_empty_polls_is_refused_not_replaced(moto_conn) -> None:
    url = moto_conn.create_queue("zero")
    with pytest.raises(InvalidParameter, match="max_empty_polls"):
        receive_repeatedly(moto_conn, url, max_empty_polls=0)


def test_delays_hold_messages_back_until_their_time() -> None:
    with connect("sim", seed=1, preset="ideal") as conn:
        url = conn.create_queue("trickle")
        sent = send_batches(conn, url, ["a", "b", "c"], delays=[0, 5, 10])
        assert list(sent.sends["delay_s"]) == [0, 5, 10]
        early = receive_repeatedly(conn, url, wait_time=0, max_empty_polls=1)
        late = receive_repeatedly(conn, url, expected=2, wait_time=20)
    assert len(early.deliveries) == 1
    assert sorted(late.deliveries["latency_ms"]) == pytest.approx([5000, 10000], abs=1)


@pytest.mark.parametrize(
    ("delays", "words"), [([0], "one value per message"), ([0, 901], "0 to 900")]
)
def test_delays_are_checked_before_sending(moto_conn, delays, words) -> None:
    url = moto_conn.create_queue("delays")
    with pytest.raises(InvalidParameter, match=words):
        send_batches(moto_conn, url, ["a", "b"], delays=delays)
