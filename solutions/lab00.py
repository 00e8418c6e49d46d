"""Lab 00: set-up and a first message."""

from __future__ import annotations

from labsupport import connect
from labsupport.limits import MAX_MESSAGE_BYTES


def ex1() -> int:
    """The largest message SQS accepts, in bytes."""
    return MAX_MESSAGE_BYTES


def ex2(seed: int = 0) -> list[str]:
    """Send alpha, beta and gamma to a new queue; receive and delete them all."""
    with connect("sim", seed=seed) as conn:
        url = conn.create_queue("solution-lab00")
        for body in ("alpha", "beta", "gamma"):
            conn.client.send_message(QueueUrl=url, MessageBody=body)
        bodies: list[str] = []
        while len(bodies) < 3:
            reply = conn.client.receive_message(
                QueueUrl=url, WaitTimeSeconds=20, MaxNumberOfMessages=10
            )
            for msg in reply.get("Messages", []):
                bodies.append(msg["Body"])
                conn.client.delete_message(
                    QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"]
                )
    return bodies
