"""The same scenarios against moto in-process and the ideal model.

Answers must match, except for the deliberate differences below, where the
model follows the documented service and moto is looser. The same table is in
docs/model.md.
"""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from scenarios import SCENARIOS

from labsupport.sim.backend import open_sim

# scenario -> (the model's answer, why it differs from moto)
DIFFERENCES = {
    "body_characters": (
        ("error", "InvalidMessageContents"),
        "SendMessage API reference: only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD "
        "#x10000-#x10FFFF are allowed; moto accepts any character.",
    ),
    "attribute_range": (
        ("error", "InvalidAttributeValue"),
        "SetQueueAttributes: VisibilityTimeout is 0 to 43,200 s; moto accepts 50000.",
    ),
    "dedup_id_on_standard": (
        ("error", "InvalidParameterValue"),
        "SendMessage: MessageDeduplicationId applies only to FIFO queues; moto "
        "accepts it on a standard queue.",
    ),
    "fifo_false_on_standard": (
        ("error", "InvalidAttributeName"),
        "CreateQueue: the service takes FifoQueue only as true (a FIFO queue) and "
        "answers 'Unknown Attribute FifoQueue.' for false; moto accepts false.",
    ),
    "number_attribute_text": (
        ("error", "InvalidParameterValue"),
        "Message attributes: a Number holds up to 38 significant digits from "
        "10^-128 to 10^+126; moto accepts any text as a Number.",
    ),
    "reserved_tag_prefix": (
        ("error", "InvalidParameterValue"),
        "Queue quotas: tag keys and values must not start with the reserved "
        "prefix aws:; moto accepts them.",
    ),
    "fifo_duplicate_id": (
        True,
        "A deduplicated send is accepted but not delivered; the service answers "
        "with the first copy's MessageId (observed behaviour), moto makes a new id.",
    ),
}


def on_moto(name: str):
    with mock_aws():
        client = boto3.client(
            "sqs",
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        return SCENARIOS[name](client)


def on_sim(name: str):
    with open_sim(preset="ideal", seed=0) as conn:
        return SCENARIOS[name](conn.client)


SAME = sorted(set(SCENARIOS) - set(DIFFERENCES))


@pytest.mark.parametrize("name", SAME)
def test_model_answers_like_moto(name):
    assert on_sim(name) == on_moto(name)


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_deliberate_difference_follows_the_service(name):
    expected, _why = DIFFERENCES[name]

    assert on_sim(name) == expected
    assert on_moto(name) != expected
