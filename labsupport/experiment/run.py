"""One experiment: make a queue, send a run of messages, receive them, measure.

The producer and the consumer take turns in one thread: send one batch,
make one receive call (and delete what came back; if the call came back full
while sent messages are still unseen, ask again at once with a short poll, up
to three more times), and again, until every message is sent; then the
consumer goes on alone until the stop rule of
:func:`~labsupport.experiment.receive.receive_repeatedly` is met. Taking
turns keeps the queue short, as when consumers keep up with producers, so
the latency measured is the queue's and not a backlog's. It also makes a run
on the ``sim`` backend's virtual clock a pure function of its seed.

Limitations: on a wall-clock backend the consumer's turn waits for the
producer's call to return, so measured latency includes up to one send
round trip of the kit's own.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from labsupport.backends.connection import Connection
from labsupport.errors import InvalidParameter
from labsupport.experiment.receive import (
    SHORT_POLL_PAUSE_S,
    Receiver,
    StopRule,
    default_settle,
)
from labsupport.experiment.send import Sender, make_bodies, stamp_attributes
from labsupport.limits import (
    MAX_MESSAGE_BYTES,
    check_batch_size,
    check_count,
    check_visibility_timeout,
    check_wait_time,
    message_size,
)

__all__ = ["ExperimentResult", "run_experiment"]

QUEUE_TYPES = ("standard", "fifo")
MAX_EXTRA_POLLS = 3
MAX_MESSAGES = 1_000_000  # the tables of a larger run outgrow a laptop's memory


@dataclass
class ExperimentResult:
    """The tables and summary of one experiment.

    ``sends``, ``deliveries`` and ``polls`` follow
    :mod:`labsupport.experiment.records`; ``summary`` is a plain dict that
    ``json.dumps`` takes; ``params`` records how the run was made.
    """

    sends: pd.DataFrame
    deliveries: pd.DataFrame
    polls: pd.DataFrame
    summary: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path, plots: bool = True) -> list[Path]:
        """Write the CSVs, summary.json and (by default) the PNG plots."""
        from labsupport.plots import save_all

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("sends", "deliveries", "polls"):
            path = out / f"{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            written.append(path)
        path = out / "summary.json"
        path.write_text(json.dumps(self.summary, indent=2) + "\n", encoding="utf-8")
        written.append(path)
        if plots:
            written.extend(save_all(self, out))
        return written


def _check_params(
    messages: int,
    batch_size: int,
    wait_time: int,
    visibility_timeout: int,
    queue_type: str,
    groups: int,
    payload_bytes: int,
    time_budget_s: float,
) -> None:
    check_count(messages)
    if messages > MAX_MESSAGES:
        raise InvalidParameter(
            "message count", f"at most {MAX_MESSAGES:,} per experiment", messages
        )
    check_batch_size(batch_size)
    check_wait_time(wait_time)
    check_visibility_timeout(visibility_timeout)
    if queue_type not in QUEUE_TYPES:
        raise InvalidParameter("queue type", "'standard' or 'fifo'", queue_type)
    check_count(groups, "number of message groups")
    if groups > 1 and queue_type != "fifo":
        raise InvalidParameter(
            "number of message groups",
            "1 on a standard queue",
            groups,
            "Message groups belong to FIFO queues: add queue_type='fifo'.",
        )
    largest = MAX_MESSAGE_BYTES - message_size("", stamp_attributes("x" * 8, 0, 0))
    if not isinstance(payload_bytes, int) or not 1 <= payload_bytes <= largest:
        raise InvalidParameter(
            "payload size",
            f"1 to {largest:,} bytes (1 MiB less the kit's lab.* attributes)",
            payload_bytes,
        )
    if not time_budget_s > 0:
        raise InvalidParameter("time budget", "more than 0 seconds", time_budget_s)


def run_experiment(
    conn: Connection,
    *,
    messages: int = 200,
    batch_size: int = 10,
    queue_type: str = "standard",
    wait_time: int = 20,
    visibility_timeout: int = 30,
    delete: bool = True,
    groups: int = 1,
    payload_bytes: int = 100,
    seed: int | None = None,
    queue_name: str | None = None,
    time_budget_s: float = 300.0,
    progress: bool | None = None,
) -> ExperimentResult:
    """Send ``messages`` messages and receive them; return tables and summary.

    Every parameter is checked before the queue is made. The queue is
    deleted when the connection closes. ``groups`` spreads a FIFO run over
    that many message groups (message ``seq`` goes to group
    ``seq % groups``). ``progress`` shows a bar on stderr (default: when
    stderr is a terminal and the run has 1,000 messages or more).
    """
    _check_params(
        messages,
        batch_size,
        wait_time,
        visibility_timeout,
        queue_type,
        groups,
        payload_bytes,
        time_budget_s,
    )
    if seed is None and isinstance(conn.details.get("seed"), int):
        seed = conn.details["seed"]  # the back-off jitter moves a virtual clock
    run_id = conn.next_run_id()
    bodies = make_bodies(messages, payload_bytes, run_id)
    fifo = queue_type == "fifo"
    url = conn.create_queue(queue_name or f"lab-{run_id}-{queue_type}", fifo=fifo)
    group_ids = [str(seq % groups) for seq in range(messages)] if fifo else None
    sender = Sender(
        conn,
        url,
        bodies,
        run_id=run_id,
        batch_size=batch_size,
        group_ids=group_ids,
        seed=seed,
    )
    receiver = Receiver(
        conn,
        url,
        wait_time=wait_time,
        visibility_timeout=visibility_timeout,
        delete=delete,
        run_id=run_id,
    )
    wall_start, clock_start = time.perf_counter(), conn.clock.now()
    reason = _take_turns(conn, sender, receiver, time_budget_s, progress)
    elapsed = time.perf_counter() - wall_start
    return _result(
        conn,
        sender,
        receiver,
        reason,
        elapsed,
        conn.clock.now() - clock_start,
        seed,
        url,
    )


def _take_turns(
    conn: Connection,
    sender: Sender,
    receiver: Receiver,
    time_budget_s: float,
    progress: bool | None,
) -> str:
    """Alternate send and receive; then receive until the stop rule says so."""
    total = sender.total
    show = sys.stderr.isatty() and total >= 1000 if progress is None else progress
    bar = tqdm(
        total=total, unit="msg", disable=not show, file=sys.stderr, desc="received"
    )
    start = conn.clock.now()

    def turn(wait_time: int | None = None) -> int:
        before = len(receiver.seen)
        rows = receiver.poll(wait_time)
        bar.update(len(receiver.seen) - before)
        if not rows and receiver.wait_time == 0:
            conn.clock.sleep(SHORT_POLL_PAUSE_S)
        return len(rows)

    try:
        while not sender.done:
            sender.send_next()
            # A full answer hints that more are waiting: a consumer that keeps
            # up asks again at once (a short poll, which never blocks) rather
            # than leaving them for the next turn.
            returned = turn()
            for _ in range(MAX_EXTRA_POLLS):
                waiting = sender.accepted - len(receiver.seen)
                if returned < receiver.max_messages or waiting <= 0:
                    break
                returned = turn(wait_time=0)
        expected = int(sender.result().sends["sent"].sum())
        rule = StopRule(
            start,
            expected,
            3 if receiver.wait_time else 20,
            time_budget_s,
            default_settle(conn, receiver.visibility_timeout),
        )
        reason = rule.check(conn.clock.now(), len(receiver.seen))
        while not reason:
            rule.observe(turn())
            reason = rule.check(conn.clock.now(), len(receiver.seen))
        return reason
    finally:
        bar.close()


def _result(
    conn: Connection,
    sender: Sender,
    receiver: Receiver,
    reason: str,
    elapsed: float,
    clock_elapsed: float,
    seed: int | None,
    url: str,
) -> ExperimentResult:
    from labsupport.metrics import inversions_within_groups, summarize

    sent = sender.result()
    received = receiver.result(reason)
    summary = summarize(
        sent.sends,
        received.deliveries,
        received.polls,
        backend=conn.backend,
        seed=seed,
        elapsed_s=elapsed,
    )
    virtual = getattr(conn.clock, "virtual", False)
    summary["virtual_elapsed_s"] = round(clock_elapsed, 3) if virtual else None
    summary["stopped_because"] = reason
    summary["queue_type"] = "fifo" if sender.fifo else "standard"
    summary["preset"] = conn.details.get("preset")
    if sender.fifo:
        groups = sent.sends["group_id"].nunique()
        summary["groups"] = int(groups)
        summary["inversions_within_groups"] = inversions_within_groups(
            sent.sends, received.deliveries
        )
    params: dict[str, Any] = {
        k: v for k, v in conn.details.items() if isinstance(v, str | int | float)
    }
    params.update(queue_url=url, run_id=receiver.run_id, backend=conn.backend)
    return ExperimentResult(
        sent.sends, received.deliveries, received.polls, summary, params
    )
