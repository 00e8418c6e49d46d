"""Deterministic SQS scenarios run against any boto3 SQS client.

Each scenario takes a client and returns plain data (no ids, no times), so
the answers of two backends can be compared with ``==``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

Scenario = Callable[[Any], Any]


def outcome(call: Callable[[], Any]) -> Any:
    """ "ok" if the call succeeded, or ("error", code) if the service refused it."""
    try:
        call()
    except ClientError as err:
        return ("error", err.response["Error"]["Code"])
    return "ok"


def _queue(client: Any, name: str = "conf", **attrs: str) -> str:
    if name.endswith(".fifo"):
        attrs.setdefault("FifoQueue", "true")
    url: str = client.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url


def _bodies(response: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in response.get("Messages", [])]


def send_receive_order(client: Any) -> Any:
    url = _queue(client)
    for i in range(5):
        client.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return _bodies(got)


def batch_send_and_md5(client: Any) -> Any:
    url = _queue(client)
    entries = [
        {
            "Id": f"e{i}",
            "MessageBody": f"body {i}",
            "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(i)}},
        }
        for i in range(3)
    ]
    out = client.send_message_batch(QueueUrl=url, Entries=entries)
    return sorted(
        (e["Id"], e["MD5OfMessageBody"], e["MD5OfMessageAttributes"])
        for e in out["Successful"]
    )


def receive_attributes(client: Any) -> Any:
    url = _queue(client)
    client.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "red"}},
    )
    msg = client.receive_message(
        QueueUrl=url,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
        MessageAttributeNames=["All"],
    )["Messages"][0]
    return msg["Attributes"], msg["MessageAttributes"], msg["MD5OfMessageAttributes"]


def visibility_and_redelivery(client: Any) -> Any:
    url = _queue(client, VisibilityTimeout="0")
    client.send_message(QueueUrl=url, MessageBody="again")
    counts = []
    for _ in range(3):
        msg = client.receive_message(
            QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"][0]
        counts.append(msg["Attributes"]["ApproximateReceiveCount"])
    return counts


def delete_and_counts(client: Any) -> Any:
    url = _queue(client)
    for i in range(3):
        client.send_message(QueueUrl=url, MessageBody=f"d{i}")
    msg = client.receive_message(QueueUrl=url)["Messages"][0]
    client.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    client.receive_message(QueueUrl=url)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]


def queue_attributes_defaults(client: Any) -> Any:
    url = _queue(client)
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    keep = [
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "QueueArn",
    ]
    return {k: attrs["Attributes"][k] for k in keep}


def error_codes(client: Any) -> Any:
    url = _queue(client)
    many = [{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)]
    same = [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]
    return [
        outcome(lambda: client.get_queue_url(QueueName="missing")),
        outcome(lambda: client.create_queue(QueueName="bad name")),
        outcome(lambda: client.send_message_batch(QueueUrl=url, Entries=many)),
        outcome(lambda: client.send_message_batch(QueueUrl=url, Entries=same)),
        outcome(
            lambda: client.send_message_batch(
                QueueUrl=url, Entries=[{"Id": "no spaces", "MessageBody": "x"}]
            )
        ),
        outcome(lambda: client.receive_message(QueueUrl=url, MaxNumberOfMessages=11)),
        outcome(
            lambda: client.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
        ),
        outcome(lambda: client.purge_queue(QueueUrl=url)),
        outcome(lambda: client.purge_queue(QueueUrl=url)),
    ]


def body_characters(client: Any) -> Any:
    url = _queue(client)
    return outcome(lambda: client.send_message(QueueUrl=url, MessageBody="\x01"))


def attribute_range(client: Any) -> Any:
    url = _queue(client)
    return outcome(
        lambda: client.set_queue_attributes(
            QueueUrl=url, Attributes={"VisibilityTimeout": "50000"}
        )
    )


def create_existing(client: Any) -> Any:
    first = _queue(client, "twice")
    same = _queue(client, "twice")
    other = outcome(lambda: _queue(client, "twice", VisibilityTimeout="5"))
    return same == first, other


def list_queues_paged(client: Any) -> Any:
    for name in ("pa", "pb", "pc", "qa", "pd"):
        _queue(client, name)
    pages = []
    kwargs: dict[str, Any] = {"QueueNamePrefix": "p", "MaxResults": 2}
    while True:
        page = client.list_queues(**kwargs)
        pages.append(sorted(u.rsplit("/", 1)[1] for u in page.get("QueueUrls", [])))
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    return sorted(n for page in pages for n in page), len(pages)


def tags(client: Any) -> Any:
    url = client.create_queue(QueueName="tagged", tags={"a": "1"})["QueueUrl"]
    client.tag_queue(QueueUrl=url, Tags={"b": "2", "c": "3"})
    client.untag_queue(QueueUrl=url, TagKeys=["a"])
    return client.list_queue_tags(QueueUrl=url)["Tags"]


def fifo_order_and_dedup(client: Any) -> Any:
    url = _queue(client, "conf.fifo", ContentBasedDeduplication="true")
    for body in ("f1", "f2", "f1", "f3"):
        client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    return _bodies(client.receive_message(QueueUrl=url, MaxNumberOfMessages=10))


def fifo_group_held(client: Any) -> Any:
    url = _queue(client, "held.fifo", ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = client.receive_message(QueueUrl=url)
    second = client.receive_message(QueueUrl=url)
    third = client.receive_message(QueueUrl=url)
    client.delete_message(
        QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"]
    )
    fourth = client.receive_message(QueueUrl=url)
    return [_bodies(r) for r in (first, second, third, fourth)]


def fifo_rules(client: Any) -> Any:
    url = _queue(client, "rules.fifo")
    return [
        outcome(lambda: client.send_message(QueueUrl=url, MessageBody="x")),
        outcome(
            lambda: client.send_message(
                QueueUrl=url, MessageBody="x", MessageGroupId="g"
            )
        ),
    ]


def dedup_id_on_standard(client: Any) -> Any:
    url = _queue(client, "std")
    return outcome(
        lambda: client.send_message(
            QueueUrl=url, MessageBody="x", MessageDeduplicationId="d"
        )
    )


def fifo_false_on_standard(client: Any) -> Any:
    return outcome(
        lambda: client.create_queue(
            QueueName="plain", Attributes={"FifoQueue": "false"}
        )
    )


def number_attribute_text(client: Any) -> Any:
    url = _queue(client)
    attrs = {"n": {"DataType": "Number", "StringValue": "twelve"}}
    return outcome(
        lambda: client.send_message(
            QueueUrl=url, MessageBody="x", MessageAttributes=attrs
        )
    )


def reserved_tag_prefix(client: Any) -> Any:
    url = _queue(client)
    return outcome(lambda: client.tag_queue(QueueUrl=url, Tags={"aws:team": "a"}))


def fifo_duplicate_id(client: Any) -> Any:
    url = _queue(client, "dup.fifo")
    ids = [
        client.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageGroupId="g",
            MessageDeduplicationId="k",
        )["MessageId"]
        for body in ("one", "two")
    ]
    return ids[0] == ids[1]


def dead_letter(client: Any) -> Any:
    dlq = _queue(client, "dlq")
    arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
    src = _queue(client, "src", VisibilityTimeout="0", RedrivePolicy=policy)
    client.send_message(QueueUrl=src, MessageBody="poison")
    seen = [
        len(client.receive_message(QueueUrl=src).get("Messages", [])) for _ in "abc"
    ]
    moved = _bodies(client.receive_message(QueueUrl=dlq))
    sources = client.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]
    return seen, moved, [u.rsplit("/", 1)[1] for u in sources]


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (
        send_receive_order,
        batch_send_and_md5,
        receive_attributes,
        visibility_and_redelivery,
        delete_and_counts,
        queue_attributes_defaults,
        error_codes,
        body_characters,
        attribute_range,
        create_existing,
        list_queues_paged,
        tags,
        fifo_order_and_dedup,
        fifo_group_held,
        fifo_rules,
        dedup_id_on_standard,
        fifo_false_on_standard,
        number_attribute_text,
        reserved_tag_prefix,
        fifo_duplicate_id,
        dead_letter,
    )
}
