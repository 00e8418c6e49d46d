"""A tiny experiment loop for calibration tests, independent of the kit's own.

It does what the kit's run loop does: send a batch of 10, receive once (up to
10, long poll), delete what came back; after the last send, keep receiving
until every message was seen and one visibility timeout passed quietly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoopResult:
    deliveries: list[tuple[int, float, str]] = field(default_factory=list)

    @property
    def first_order(self) -> list[int]:
        seen: set[int] = set()
        order = []
        for seq, _, _ in self.deliveries:
            if seq not in seen:
                seen.add(seq)
                order.append(seq)
        return order

    @property
    def first_latencies_ms(self) -> list[float]:
        seen: set[int] = set()
        out = []
        for seq, latency, _ in self.deliveries:
            if seq not in seen:
                seen.add(seq)
                out.append(latency)
        return sorted(out)

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - len({d[0] for d in self.deliveries})


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, round(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def inversions(order: list[int]) -> int:
    """Pairs out of order, counted pair by pair."""
    return sum(
        1
        for i in range(len(order))
        for j in range(i + 1, len(order))
        if order[i] > order[j]
    )


def run_loop(
    conn: Any, messages: int, fifo: bool = False, wait: int = 20, visibility: int = 30
) -> LoopResult:
    client, clock = conn.client, conn.clock
    url = conn.create_queue("loop", fifo=fifo)
    sent_at: dict[int, float] = {}
    result = LoopResult()

    def receive() -> int:
        got = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        now = clock.now()
        for msg in got:
            seq = int(msg["Body"].split()[0])
            result.deliveries.append(
                (seq, (now - sent_at[seq]) * 1000, msg["MessageId"])
            )
        if got:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(got)
                ],
            )
        return len(got)

    for first in range(0, messages, 10):
        batch = range(first, min(first + 10, messages))
        entries = []
        for seq in batch:
            entry = {"Id": str(seq), "MessageBody": f"{seq} " + "x" * 90}
            if fifo:
                entry.update(MessageGroupId="g", MessageDeduplicationId=str(seq))
            entries.append(entry)
        start = clock.now()
        client.send_message_batch(QueueUrl=url, Entries=entries)
        for seq in batch:
            sent_at[seq] = start
        receive()
    quiet_since = clock.now()
    while True:
        if receive():
            quiet_since = clock.now()
        everything = len({d[0] for d in result.deliveries}) == messages
        if everything and clock.now() - quiet_since > visibility + 1:
            return result
