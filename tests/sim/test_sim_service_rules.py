"""Service details the model follows where moto is looser: the FifoQueue
attribute, Number attributes, reserved tags, RedrivePolicy checks and the
HTTP status of each error (ideal preset, through a genuine boto3 client)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labsupport.backends.connection import fake_session
from labsupport.sim import SimModel, attach

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:dlq"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def status_of(excinfo: pytest.ExceptionInfo[ClientError]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


def number(value: str) -> dict[str, Any]:
    return {"n": {"DataType": "Number", "StringValue": value}}


# -- FifoQueue on a standard queue ---------------------------------------------------


def test_fifo_queue_false_is_an_unknown_attribute(client):
    with pytest.raises(ClientError) as excinfo:
        client.create_queue(QueueName="plain", Attributes={"FifoQueue": "false"})

    code, message = error_of(excinfo)
    assert code == "InvalidAttributeName"
    assert message.startswith("Unknown Attribute FifoQueue.")
    assert "QueueUrls" not in client.list_queues()


def test_fifo_queue_true_still_makes_a_fifo_queue(client):
    url = client.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true"})

    attrs = client.get_queue_attributes(
        QueueUrl=url["QueueUrl"], AttributeNames=["FifoQueue"]
    )
    assert attrs["Attributes"] == {"FifoQueue": "true"}


# -- Number message attributes -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["abc", "1_000", " 7", "NaN", "Infinity", "1e127", "1e-129", "1" * 39],
)
def test_number_attribute_must_hold_a_storable_number(client, value):
    url = client.create_queue(QueueName="n")["QueueUrl"]

    with pytest.raises(ClientError) as excinfo:
        client.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes=number(value)
        )

    code, message = error_of(excinfo)
    assert code == "InvalidParameterValue"
    assert repr(value) in message
    assert "38 significant digits" in message


@pytest.mark.parametrize(
    "value", ["42", "-1.5", "+3", ".5", "0.000", "1e126", "1e-128", "1" * 38]
)
def test_number_attribute_accepts_numbers(client, value):
    url = client.create_queue(QueueName="n")["QueueUrl"]

    sent = client.send_message(
        QueueUrl=url, MessageBody="x", MessageAttributes=number(value)
    )

    assert len(sent["MD5OfMessageAttributes"]) == 32


def test_number_attribute_in_a_batch_fails_only_its_entry(client):
    url = client.create_queue(QueueName="n")["QueueUrl"]
    entries = [
        {"Id": "good", "MessageBody": "x", "MessageAttributes": number("1")},
        {"Id": "bad", "MessageBody": "y", "MessageAttributes": number("one")},
    ]

    out = client.send_message_batch(QueueUrl=url, Entries=entries)

    assert [e["Id"] for e in out["Successful"]] == ["good"]
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in out["Failed"]] == [
        ("bad", "InvalidParameterValue", True)
    ]


# -- reserved tag prefix -----------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [{"aws:owner": "me"}, {"AWS:Owner": "me"}, {"owner": "aws:me"}],
)
def test_tags_with_the_reserved_prefix_are_refused(client, tags):
    url = client.create_queue(QueueName="t", tags={"course": "sqs"})["QueueUrl"]

    with pytest.raises(ClientError) as excinfo:
        client.tag_queue(QueueUrl=url, Tags=tags)

    code, message = error_of(excinfo)
    assert code == "InvalidParameterValue"
    assert "'aws:' is reserved" in message
    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"course": "sqs"}


def test_create_queue_with_a_reserved_tag_is_refused(client):
    with pytest.raises(ClientError) as excinfo:
        client.create_queue(QueueName="t", tags={"aws:cloudformation": "x"})

    assert error_of(excinfo)[0] == "InvalidParameterValue"
    assert "QueueUrls" not in client.list_queues()


def test_tag_with_aws_inside_is_fine(client):
    url = client.create_queue(QueueName="t")["QueueUrl"]

    client.tag_queue(QueueUrl=url, Tags={"team": "laws:and:rules"})

    assert client.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "laws:and:rules"}


# -- RedrivePolicy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"deadLetterTargetArn": 5, "maxReceiveCount": 3},
            "deadLetterTargetArn must be the ARN of an SQS queue "
            "(arn:aws:sqs:<region>:<account>:<queue name>); got 5.",
        ),
        (
            {"deadLetterTargetArn": "dlq", "maxReceiveCount": 3},
            "deadLetterTargetArn must be the ARN of an SQS queue "
            "(arn:aws:sqs:<region>:<account>:<queue name>); got 'dlq'.",
        ),
        (
            {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 0},
            "maxReceiveCount must be a whole number from 1 to 1000; got 0.",
        ),
        (
            {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 2.5},
            "maxReceiveCount must be a whole number from 1 to 1000; got 2.5.",
        ),
        (
            {"deadLetterTargetArn": DLQ_ARN},
            "must be JSON with deadLetterTargetArn and maxReceiveCount; got "
            '\'{"deadLetterTargetArn": "' + DLQ_ARN + "\"}'.",
        ),
    ],
)
def test_redrive_policy_errors_name_the_member_at_fault(client, policy, expected):
    client.create_queue(QueueName="dlq")
    url = client.create_queue(QueueName="src")["QueueUrl"]

    with pytest.raises(ClientError) as excinfo:
        client.set_queue_attributes(
            QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(policy)}
        )

    assert error_of(excinfo) == (
        "InvalidAttributeValue",
        f"Invalid value for the parameter RedrivePolicy: {expected}",
    )


def redrive_of(client: Any, url: str) -> str:
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    return str(attrs["Attributes"]["RedrivePolicy"])


def test_redrive_policy_is_stored_in_one_form_whichever_call_set_it(client):
    client.create_queue(QueueName="dlq")
    loose = json.dumps({"maxReceiveCount": "3", "deadLetterTargetArn": DLQ_ARN})
    created = client.create_queue(
        QueueName="at-create", Attributes={"RedrivePolicy": loose}
    )["QueueUrl"]
    later = client.create_queue(QueueName="at-set")["QueueUrl"]
    client.set_queue_attributes(QueueUrl=later, Attributes={"RedrivePolicy": loose})

    again = client.create_queue(
        QueueName="at-create", Attributes={"RedrivePolicy": loose}
    )["QueueUrl"]

    normal = '{"deadLetterTargetArn":"' + DLQ_ARN + '","maxReceiveCount":3}'
    assert redrive_of(client, created) == normal
    assert redrive_of(client, later) == normal
    assert again == created


# -- HTTP status codes -------------------------------------------------------------
# Expected statuses, typed from the error traits of the SQS service model
# (awsQueryError / httpError): PurgeQueueInProgress 403, RequestThrottled 403,
# OverLimit 403, ReceiptHandleIsInvalid 404, InvalidAddress 404, the rest 400.


def test_purge_in_progress_is_403(client):
    url = client.create_queue(QueueName="p")["QueueUrl"]
    client.purge_queue(QueueUrl=url)

    with pytest.raises(client.exceptions.PurgeQueueInProgress) as excinfo:
        client.purge_queue(QueueUrl=url)

    assert status_of(excinfo) == 403


def test_invalid_receipt_handle_is_404(client):
    url = client.create_queue(QueueName="r")["QueueUrl"]

    with pytest.raises(client.exceptions.ReceiptHandleIsInvalid) as excinfo:
        client.delete_message(QueueUrl=url, ReceiptHandle="made-up")

    assert status_of(excinfo) == 404


def test_address_that_is_not_a_queue_url_is_404(client):
    with pytest.raises(client.exceptions.InvalidAddress) as excinfo:
        client.send_message(QueueUrl="no-slash", MessageBody="x")

    assert status_of(excinfo) == 404


def test_missing_queue_and_bad_values_are_400(client):
    with pytest.raises(client.exceptions.QueueDoesNotExist) as missing:
        client.get_queue_url(QueueName="nowhere")
    with pytest.raises(ClientError) as bad_value:
        client.create_queue(QueueName="v", Attributes={"VisibilityTimeout": "-1"})

    assert status_of(missing) == 400
    assert status_of(bad_value) == 400


def test_throttled_request_is_403():
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    client = fake_session("us-east-1").client("sqs", config=config)
    attach(client, SimModel(preset="ideal", throttle_rate=1.0))

    with pytest.raises(client.exceptions.RequestThrottled) as excinfo:
        client.list_queues()

    assert status_of(excinfo) == 403
