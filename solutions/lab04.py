"""Lab 04: duplicates and visibility."""

from __future__ import annotations

import json

from labsupport import connect
from labsupport.lab import queue_depth


def ex1(seed: int = 0) -> int:
    """Deliveries of a poison message before maxReceiveCount 3 moves it."""
    with connect("sim", seed=seed) as conn:
        dlq = conn.create_queue("solution-dlq")
        arn = conn.client.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        policy = {"deadLetterTargetArn": arn, "maxReceiveCount": "3"}
        source = conn.create_queue(
            "solution-source", attributes={"RedrivePolicy": json.dumps(policy)}
        )
        conn.client.send_message(QueueUrl=source, MessageBody="poison")
        deliveries = 0
        while queue_depth(conn, dlq)["visible"] == 0:
            got = conn.client.receive_message(QueueUrl=source, WaitTimeSeconds=1)
            deliveries += len(got.get("Messages", []))
            conn.clock.sleep(31)
    return deliveries


def total_once(deliveries: list[tuple[int, int]]) -> int:
    """Total of the amounts, each message (by seq) counted once."""
    seen: set[int] = set()
    total = 0
    for seq, amount in deliveries:
        if seq not in seen:
            seen.add(seq)
            total += amount
    return total


def ex3(seed: int = 0) -> int:
    """Messages queued by sends with one dedup id at 0, 200 and 301 s."""
    with connect("sim", seed=seed) as conn:
        url = conn.create_queue("solution-orders", fifo=True)
        start = conn.clock.now()
        for when in (0, 200, 301):
            conn.clock.sleep(start + when - conn.clock.now())
            conn.client.send_message(
                QueueUrl=url,
                MessageBody="order",
                MessageGroupId="g",
                MessageDeduplicationId="same",
            )
        return queue_depth(conn, url)["visible"]
