"""The model's rules, checked through a genuine boto3 client (ideal preset)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labsupport.sim.errors import SqsError


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def make_queue(client: Any, name: str = "q", **attrs: str) -> str:
    if name.endswith(".fifo"):
        attrs.setdefault("FifoQueue", "true")
    return str(client.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])


def counts(client: Any, url: str) -> tuple[int, int, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return tuple(int(attrs["Attributes"][n]) for n in names)  # type: ignore[return-value]


# -- errors as the service sends them ---------------------------------------------


def test_missing_queue_raises_the_modeled_exception_with_the_query_code(client):
    with pytest.raises(client.exceptions.QueueDoesNotExist) as excinfo:
        client.get_queue_url(QueueName="nowhere")

    assert code_of(excinfo) == "AWS.SimpleQueueService.NonExistentQueue"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    ("entries", "code"),
    [
        (
            [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
        (
            [{"Id": "bad id!", "MessageBody": "x"}],
            "AWS.SimpleQueueService.InvalidBatchEntryId",
        ),
        (
            [
                {"Id": "a", "MessageBody": "x" * 600_000},
                {"Id": "b", "MessageBody": "y" * 600_000},
            ],
            "AWS.SimpleQueueService.BatchRequestTooLong",
        ),
    ],
)
def test_batch_rules_give_the_service_codes(client, entries, code):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.send_message_batch(QueueUrl=url, Entries=entries)

    assert code_of(excinfo) == code


def test_empty_batch_is_refused(model):
    # botocore refuses an empty list itself, so ask the model directly
    url = model.call("CreateQueue", {"QueueName": "q"})["QueueUrl"]

    with pytest.raises(SqsError) as excinfo:
        model.call("SendMessageBatch", {"QueueUrl": url, "Entries": []})

    assert excinfo.value.code == "AWS.SimpleQueueService.EmptyBatchRequest"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MessageBody": "bell \x07"}, "InvalidMessageContents"),
        ({"MessageBody": "x", "DelaySeconds": 901}, "InvalidParameterValue"),
        (
            {
                "MessageBody": "x",
                "MessageAttributes": {
                    f"a{i}": {"DataType": "String", "StringValue": "v"}
                    for i in range(11)
                },
            },
            "InvalidParameterValue",
        ),
        (
            {
                "MessageBody": "x",
                "MessageAttributes": {
                    "a": {"DataType": "Colour", "StringValue": "red"}
                },
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_send_rules_give_the_service_codes(client, kwargs, code):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.send_message(QueueUrl=url, **kwargs)

    assert code_of(excinfo) == code


def test_message_larger_than_the_queue_maximum_is_refused(client):
    url = make_queue(client, MaximumMessageSize="1024")
    client.send_message(QueueUrl=url, MessageBody="x" * 1024)

    with pytest.raises(ClientError) as excinfo:
        client.send_message(QueueUrl=url, MessageBody="x" * 1025)

    assert code_of(excinfo) == "InvalidParameterValue"
    assert "1024" in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("kwargs"),
    [
        {"MaxNumberOfMessages": 11},
        {"MaxNumberOfMessages": 0},
        {"WaitTimeSeconds": 21},
        {"VisibilityTimeout": 43_201},
    ],
)
def test_receive_parameter_ranges(client, kwargs):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.receive_message(QueueUrl=url, **kwargs)

    assert code_of(excinfo) == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ({"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ({"DelaySeconds": "soon"}, "InvalidAttributeValue"),
        ({"Colour": "blue"}, "InvalidAttributeName"),
        ({"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
    ],
)
def test_queue_attribute_rules(client, attributes, code):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)

    assert code_of(excinfo) == code


def test_bad_queue_names(client):
    with pytest.raises(ClientError) as too_long:
        client.create_queue(QueueName="x" * 81)
    with pytest.raises(ClientError) as fifo_name:
        client.create_queue(QueueName="plain", Attributes={"FifoQueue": "true"})

    assert code_of(too_long) == "InvalidParameterValue"
    assert code_of(fifo_name) == "InvalidParameterValue"


def test_existing_name_with_other_attributes_is_queue_already_exists(client):
    url = make_queue(client, VisibilityTimeout="10")

    same = make_queue(client, VisibilityTimeout="10")
    with pytest.raises(ClientError) as excinfo:
        make_queue(client, VisibilityTimeout="11")

    assert same == url
    assert code_of(excinfo) == "QueueAlreadyExists"


def test_name_is_blocked_for_60_seconds_after_delete(ideal):
    client = ideal.client
    client.delete_queue(QueueUrl=make_queue(client, "again"))

    with pytest.raises(ClientError) as excinfo:
        make_queue(client, "again")
    ideal.clock.sleep(60)
    make_queue(client, "again")

    assert code_of(excinfo) == "AWS.SimpleQueueService.QueueDeletedRecently"


def test_operation_outside_the_model_is_named(client):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.add_permission(
            QueueUrl=url, Label="l", AWSAccountIds=["111122223333"], Actions=["*"]
        )

    assert code_of(excinfo) == "AWS.SimpleQueueService.UnsupportedOperation"
    assert "AddPermission" in excinfo.value.response["Error"]["Message"]


def test_invalid_receipt_handle(client):
    url = make_queue(client)

    with pytest.raises(ClientError) as excinfo:
        client.delete_message(QueueUrl=url, ReceiptHandle="made-up")

    assert code_of(excinfo) == "ReceiptHandleIsInvalid"


def test_purge_once_per_60_seconds(ideal):
    client = ideal.client
    url = make_queue(client)
    client.send_message(QueueUrl=url, MessageBody="x")
    client.purge_queue(QueueUrl=url)

    with pytest.raises(ClientError) as excinfo:
        client.purge_queue(QueueUrl=url)
    ideal.clock.sleep(60)
    client.purge_queue(QueueUrl=url)

    assert code_of(excinfo) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert counts(client, url) == (0, 0, 0)


# -- identity and digests ------------------------------------------------------------


def test_url_arn_and_digests(client):
    url = make_queue(client, "digest")
    attrs = {"a": {"DataType": "String", "StringValue": "x"}}

    sent = client.send_message(
        QueueUrl=url, MessageBody="héllo", MessageAttributes=attrs
    )
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    assert url == "https://sqs.us-east-1.amazonaws.com/123456789012/digest"
    assert arn["Attributes"]["QueueArn"] == "arn:aws:sqs:us-east-1:123456789012:digest"
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    # the attribute digest as encoded by hand: length-prefixed name, type,
    # transport byte 1, value
    raw = (
        b"\x00\x00\x00\x01a"
        + b"\x00\x00\x00\x06String"
        + b"\x01"
        + b"\x00\x00\x00\x01x"
    )
    assert sent["MD5OfMessageAttributes"] == hashlib.md5(raw).hexdigest()


# -- visibility, redelivery, counts --------------------------------------------------


def test_counts_visible_in_flight_and_delayed(client):
    url = make_queue(client)
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=url, MessageBody=body)
    client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=10)

    client.receive_message(QueueUrl=url)

    assert counts(client, url) == (2, 1, 1)


def test_visibility_timeout_expiry_redelivers_with_rising_count(ideal):
    client = ideal.client
    url = make_queue(client)
    client.send_message(QueueUrl=url, MessageBody="x")
    names = ["ApproximateReceiveCount"]

    first = client.receive_message(
        QueueUrl=url, VisibilityTimeout=5, MessageSystemAttributeNames=names
    )
    hidden = client.receive_message(QueueUrl=url)
    ideal.clock.sleep(5)
    again = client.receive_message(QueueUrl=url, MessageSystemAttributeNames=names)

    assert first["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in hidden
    assert again["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["Messages"][0]["MessageId"] == first["Messages"][0]["MessageId"]


@pytest.mark.parametrize("preset", ["ideal", "realistic", "classroom"])
def test_zero_visibility_timeout_leaves_the_message_receivable_at_once(preset):
    from labsupport.sim.backend import open_sim

    with open_sim(preset=preset, seed=5) as conn:
        client = conn.client
        url = make_queue(client)
        client.send_message(QueueUrl=url, MessageBody="x")
        ask = dict(
            QueueUrl=url,
            VisibilityTimeout=0,
            MaxNumberOfMessages=2,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )

        answers = [client.receive_message(**ask) for _ in range(3)]

    # one message, returned by every receive, each time counted once more
    assert [
        [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in a["Messages"]]
        for a in answers
    ] == [[("x", "1")], [("x", "2")], [("x", "3")]]


def test_zero_visibility_timeout_short_polls_see_the_message_again(client):
    url = make_queue(client)
    client.send_message(QueueUrl=url, MessageBody="x")

    first = client.receive_message(
        QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=2
    )
    second = client.receive_message(
        QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=2
    )

    assert [m["Body"] for m in first["Messages"]] == ["x"]
    assert [m["Body"] for m in second["Messages"]] == ["x"]
    assert counts(client, url) == (1, 0, 0)


def test_outdated_receipt_handle_deletes_nothing(ideal):
    client, model = ideal.client, ideal.details["model"]
    url = make_queue(client)
    client.send_message(QueueUrl=url, MessageBody="x")
    old = client.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    ideal.clock.sleep(1)
    new = client.receive_message(QueueUrl=url)["Messages"][0]

    client.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
    still = counts(client, url)
    client.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])

    assert still == (0, 1, 0)
    assert counts(client, url) == (0, 0, 0)
    assert model.stats()["outdated_deletes"] == 1


def test_missed_delete_brings_the_message_back_after_its_timeout():
    from labsupport.sim.backend import open_sim

    with open_sim(preset="ideal", delete_miss_rate=1.0) as conn:
        client = conn.client
        url = make_queue(client)
        client.send_message(QueueUrl=url, MessageBody="x")
        msg = client.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
        client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
        before = client.receive_message(QueueUrl=url)
        conn.clock.sleep(30)
        after = client.receive_message(QueueUrl=url)
        stats = conn.details["model"].stats()

    assert "Messages" not in before
    assert [m["Body"] for m in after["Messages"]] == ["x"]
    assert stats["delete_misses"] == 1
    assert stats["redeliveries"] == 1


def test_change_visibility_rules(ideal):
    client = ideal.client
    url = make_queue(client)
    client.send_message(QueueUrl=url, MessageBody="x")
    handle = client.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
    )
    visible = counts(client, url)
    with pytest.raises(ClientError) as not_inflight:
        client.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=10
        )

    assert visible == (1, 0, 0)
    assert code_of(not_inflight) == "AWS.SimpleQueueService.MessageNotInflight"


def test_long_poll_on_empty_queue_moves_the_virtual_clock_by_the_wait(ideal):
    url = make_queue(ideal.client)
    start = ideal.clock.now()

    got = ideal.client.receive_message(QueueUrl=url, WaitTimeSeconds=7)

    assert "Messages" not in got
    assert ideal.clock.now() - start == pytest.approx(7.0)


def test_long_poll_returns_when_a_delayed_message_appears(ideal):
    url = make_queue(ideal.client)
    ideal.client.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=3)
    start = ideal.clock.now()

    got = ideal.client.receive_message(QueueUrl=url, WaitTimeSeconds=20)

    assert [m["Body"] for m in got["Messages"]] == ["x"]
    assert ideal.clock.now() - start == pytest.approx(3.0)


def test_retention_period_drops_old_messages(ideal):
    url = make_queue(ideal.client, MessageRetentionPeriod="60")
    ideal.client.send_message(QueueUrl=url, MessageBody="old")

    ideal.clock.sleep(61)

    assert "Messages" not in ideal.client.receive_message(QueueUrl=url)
    assert counts(ideal.client, url) == (0, 0, 0)


# -- FIFO ---------------------------------------------------------------------------


def send_fifo(client, url, body, group="g", dedup=None):
    return client.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup or body,
    )


def test_fifo_group_is_held_while_in_flight(client):
    url = make_queue(client, "h.fifo")
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        send_fifo(client, url, body, group)

    first = client.receive_message(QueueUrl=url)["Messages"]
    second = client.receive_message(QueueUrl=url)["Messages"]
    third = client.receive_message(QueueUrl=url)
    client.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    fourth = client.receive_message(QueueUrl=url)["Messages"]

    assert [m["Body"] for m in first + second + fourth] == ["a1", "b1", "a2"]
    assert "Messages" not in third


def test_fifo_zero_visibility_timeout_gives_the_group_again_in_order(client):
    url = make_queue(client, "zero.fifo", ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        send_fifo(client, url, body, group)

    answers = [
        client.receive_message(
            QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=10
        )["Messages"]
        for _ in range(2)
    ]

    assert [[m["Body"] for m in a] for a in answers] == [["a1", "a2", "b1"]] * 2


def test_fifo_order_and_sequence_numbers(client):
    url = make_queue(client, "o.fifo")
    numbers = [send_fifo(client, url, f"m{i}")["SequenceNumber"] for i in range(12)]

    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]

    assert [m["Body"] for m in got] == [f"m{i}" for i in range(10)]
    assert all(len(n) == 20 and n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len(set(numbers)) == 12


def test_fifo_dedup_window_holds_after_delete_and_ends_after_5_minutes(ideal):
    client = ideal.client
    url = make_queue(ideal.client, "d.fifo")
    first = send_fifo(client, url, "x", dedup="k")
    msg = client.receive_message(QueueUrl=url)["Messages"][0]
    client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])

    repeat = send_fifo(client, url, "x", dedup="k")
    after_repeat = counts(client, url)
    ideal.clock.sleep(300)
    fresh = send_fifo(client, url, "x", dedup="k")

    assert repeat["MessageId"] == first["MessageId"]
    assert after_repeat == (0, 0, 0)
    assert fresh["MessageId"] != first["MessageId"]
    assert counts(client, url) == (1, 0, 0)


def test_content_based_dedup_uses_the_body(client):
    url = make_queue(client, "c.fifo", ContentBasedDeduplication="true")
    for body in ("same", "same", "other"):
        client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")

    assert counts(client, url) == (2, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"MessageDeduplicationId": "d"}, "MissingParameter"),
        ({"MessageGroupId": "g"}, "InvalidParameterValue"),
        (
            {"MessageGroupId": "g", "MessageDeduplicationId": "d", "DelaySeconds": 5},
            "InvalidParameterValue",
        ),
        (
            {"MessageGroupId": "g" * 129, "MessageDeduplicationId": "d"},
            "InvalidParameterValue",
        ),
    ],
)
def test_fifo_send_rules(client, kwargs, code):
    url = make_queue(client, "r.fifo")

    with pytest.raises(ClientError) as excinfo:
        client.send_message(QueueUrl=url, MessageBody="x", **kwargs)

    assert code_of(excinfo) == code


def test_standard_queue_takes_a_group_id_but_not_a_dedup_id(client):
    url = make_queue(client)

    client.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="tenant-1")
    with pytest.raises(ClientError) as excinfo:
        client.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")

    assert code_of(excinfo) == "InvalidParameterValue"


# -- dead-letter queues, tags, listing ---------------------------------------------


def test_message_moves_to_dead_letter_queue_on_the_receive_after_max(client):
    dlq = make_queue(client, "dlq")
    arn = "arn:aws:sqs:us-east-1:123456789012:dlq"
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    src = make_queue(client, "src", VisibilityTimeout="0", RedrivePolicy=policy)
    sent = client.send_message(QueueUrl=src, MessageBody="poison")

    returned = [
        len(client.receive_message(QueueUrl=src).get("Messages", [])) for _ in range(4)
    ]
    moved = client.receive_message(
        QueueUrl=dlq, MessageSystemAttributeNames=["DeadLetterQueueSourceArn"]
    )["Messages"]
    sources = client.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]

    assert returned == [1, 1, 1, 0]
    assert moved[0]["MessageId"] == sent["MessageId"]
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(":src")
    assert sources == [src]


def test_redrive_to_a_missing_queue_is_refused(client):
    policy = json.dumps(
        {
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:none",
            "maxReceiveCount": 3,
        }
    )

    with pytest.raises(ClientError) as excinfo:
        make_queue(client, "src", RedrivePolicy=policy)

    assert code_of(excinfo) == "InvalidParameterValue"


def test_tags(client):
    url = client.create_queue(QueueName="t", tags={"course": "sqs"})["QueueUrl"]

    client.tag_queue(QueueUrl=url, Tags={"week": "3"})
    client.untag_queue(QueueUrl=url, TagKeys=["course"])

    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"week": "3"}


def test_list_queues_prefix_and_pages(client):
    for name in ("lab-a", "lab-b", "lab-c", "other"):
        make_queue(client, name)

    first = client.list_queues(QueueNamePrefix="lab-", MaxResults=2)
    second = client.list_queues(
        QueueNamePrefix="lab-", MaxResults=2, NextToken=first["NextToken"]
    )
    everything = client.list_queues()

    names = [u.rsplit("/", 1)[1] for u in first["QueueUrls"] + second["QueueUrls"]]
    assert names == ["lab-a", "lab-b", "lab-c"]
    assert "NextToken" not in second
    assert len(everything["QueueUrls"]) == 4


def test_list_queues_paginator(client):
    for i in range(5):
        make_queue(client, f"p{i}")

    pages = list(
        client.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 2})
    )

    assert [len(p["QueueUrls"]) for p in pages] == [2, 2, 1]
