"""The tables an experiment produces, and what each column means.

Times are seconds since the Unix epoch on the connection's clock (virtual on
the ``sim`` backend); durations in milliseconds say so in their name.

``sends``: one row per message the experiment tried to send.
    seq (int): the message's sequence number, 0, 1, 2, ... in send order.
    entry_id (str): the batch entry id used.
    message_id (str or None): the id SQS gave; None if never sent.
    sent (bool): SQS accepted the message.
    send_time (float): clock time just before the batch call that sent it.
    body_bytes (int): size of the body in bytes.
    attempts (int): batch calls that carried this message.
    error_code (str or None): why it was not sent, if it was not.
    group_id (str or None): MessageGroupId on FIFO queues.
    delay_s (int): the message's DelaySeconds (0 unless asked for).

``deliveries``: one row per message returned by a receive call.
    seq (int): the sequence number read from the message body.
    message_id (str), receive_count (int: ApproximateReceiveCount).
    receive_time (float): clock time when the receive call returned.
    poll (int): the receive call's number, from 0.
    position (int): place in that call's response, from 0.
    latency_ms (float): receive_time minus the message's send_time, in ms.
    deleted (bool): the consumer deleted it after this delivery.

``polls``: one row per receive call.
    poll (int), start_time (float), end_time (float),
    wait_time_s (int), max_messages (int), returned (int), empty (bool).
"""

from __future__ import annotations

__all__ = ["DELIVERY_COLUMNS", "POLL_COLUMNS", "SEND_COLUMNS", "SUMMARY_KEYS"]

SEND_COLUMNS = [
    "seq",
    "entry_id",
    "message_id",
    "sent",
    "send_time",
    "body_bytes",
    "attempts",
    "error_code",
    "group_id",
    "delay_s",
]
DELIVERY_COLUMNS = [
    "seq",
    "message_id",
    "receive_count",
    "receive_time",
    "poll",
    "position",
    "latency_ms",
    "deleted",
]
POLL_COLUMNS = [
    "poll",
    "start_time",
    "end_time",
    "wait_time_s",
    "max_messages",
    "returned",
    "empty",
]
SUMMARY_KEYS = [
    "backend",
    "messages_sent",
    "unique_delivered",
    "deliveries",
    "duplicates",
    "missing",
    "inversions",
    "adjacent_inversion_ratio",
    "latency_ms",
    "receive_calls",
    "empty_receives",
    "elapsed_s",
    "seed",
]
