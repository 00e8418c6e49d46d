"""Short against long polling on a trickle of traffic, measured honestly.

A consumer pays for every receive call. When messages arrive one by one, a
short poll (``WaitTimeSeconds=0``) answers at once, usually with nothing, so
the consumer asks again and again while it waits; a long poll waits on the
service's side and returns as soon as a message is receivable. On the
``sim`` backend a short poll also samples only some of the servers, so it can
come back empty while a message waits (a *false empty*).

:func:`trickle` makes that traffic: every message is sent at once, each with
its own DelaySeconds, so they become receivable spread over a span of time.
:func:`polling_table` separates what happened while messages were still
arriving from what the stop rule added after the last one, so neither is
mistaken for the other.

Limitations:
    False empties are counted by the ``sim`` model only; other backends do
    not say why a receive was empty (the column is empty there). DelaySeconds
    are whole seconds, so messages due in the same second become receivable
    together. On a wall-clock backend every second of the trickle is real.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from labsupport.backends.connection import Connection
from labsupport.errors import InvalidParameter
from labsupport.experiment import ExperimentResult, make_bodies, send_batches
from labsupport.experiment.receive import receive_repeatedly
from labsupport.lab.display import model_stats
from labsupport.limits import MAX_DELAY_SECONDS, check_count, check_wait_time
from labsupport.metrics import first_deliveries, summarize

__all__ = ["after_due", "polling_table", "polls_until_last", "trickle"]

_NEVER = 1_000_000  # empty polls in a row: the trickle's consumer never gives up


def trickle(
    conn: Connection,
    *,
    messages: int = 20,
    over_s: int = 60,
    wait_time: int = 20,
    idle_s: float = 20.0,
    seed: int | None = None,
    queue_name: str | None = None,
) -> ExperimentResult:
    """Messages that become receivable one by one over ``over_s`` s, consumed.

    Side effects: creates a standard queue (deleted when the connection
    closes), sends ``messages`` messages in batches at once, each with a
    DelaySeconds drawn uniformly from 0 to ``over_s`` with ``seed`` (sorted,
    so send order is the order they become due), then receives with
    ``wait_time`` (0 = short polling, up to 20 = long polling) and deletes,
    until every message has arrived and ``idle_s`` more seconds passed with
    nothing new. The consumer never gives up while messages are still due.

    Returns:
        An :class:`~labsupport.experiment.ExperimentResult` whose tables are
        the usual ones (``latency_ms`` counts from the send, so it includes
        each message's delay; see :func:`after_due`). ``summary`` also holds
        ``false_empties`` (on ``sim``; None elsewhere) and ``idle_s``.

    Raises:
        InvalidParameter: a count, span or wait out of range.
    """
    check_count(messages)
    check_wait_time(wait_time)
    if not isinstance(over_s, int) or not 0 <= over_s <= MAX_DELAY_SECONDS:
        raise InvalidParameter(
            "trickle span (DelaySeconds)",
            f"0 to {MAX_DELAY_SECONDS} whole seconds",
            over_s,
        )
    if not idle_s >= 0:
        raise InvalidParameter(
            "idle time after the last message", "0 s or more", idle_s
        )

    rng = random.Random(seed)
    delays = sorted(rng.randint(0, over_s) for _ in range(messages))
    run_id = conn.next_run_id()
    url = conn.create_queue(queue_name or f"lab-{run_id}-trickle")
    before = _false_empties(conn)
    wall = time.perf_counter()
    sent = send_batches(conn, url, make_bodies(messages, run_id=run_id), delays=delays)
    got = receive_repeatedly(
        conn,
        url,
        expected=sent.sent,
        wait_time=wait_time,
        max_empty_polls=_NEVER,
        time_budget_s=over_s + idle_s + 60.0,
        settle_s=idle_s,
        run_id=conn.run_id,
    )
    after = _false_empties(conn)
    summary = summarize(
        sent.sends,
        got.deliveries,
        got.polls,
        backend=conn.backend,
        seed=seed,
        elapsed_s=time.perf_counter() - wall,
    )
    summary["stopped_because"] = got.stopped_because
    summary["false_empties"] = (
        None if before is None or after is None else after - before
    )
    summary["idle_s"] = idle_s
    params = {"queue_url": url, "backend": conn.backend, "over_s": over_s}
    return ExperimentResult(sent.sends, got.deliveries, got.polls, summary, params)


def _false_empties(conn: Connection) -> int | None:
    stats = model_stats(conn, "false_empties")
    value = stats.get("false_empties")
    return int(value) if isinstance(value, int) else None


def after_due(result: Any) -> pd.DataFrame:
    """A run's deliveries with ``latency_ms`` counted from when each was due.

    A delayed message cannot be received before its DelaySeconds end, so
    the wait that matters to a consumer starts there: receive time minus
    (send time plus delay), in milliseconds. Returns a new table (same
    columns); the result is not changed.
    """
    sends = result.sends.set_index("seq")
    due = sends["send_time"] + sends["delay_s"]
    out: pd.DataFrame = result.deliveries.copy()
    own = out["seq"].isin(due.index)
    out.loc[own, "latency_ms"] = (
        out.loc[own, "receive_time"] - out.loc[own, "seq"].map(due)
    ) * 1000.0
    out.loc[~own, "latency_ms"] = None
    return out


def polling_table(runs: Mapping[str, Any]) -> pd.DataFrame:
    """Receive calls of trickle runs, split at each run's last new message.

    One row per run (``runs`` maps a label to a :func:`trickle` result).
    Columns: ``messages``; ``receive calls`` and ``empty`` in total;
    ``empty before last`` (empty calls that ended before the last new
    message arrived: the cost of waiting for traffic); ``added by stop``
    (calls after it, made only because the consumer listened ``idle_s``
    more seconds); ``false empties`` (``sim`` only); and ``p50 ms`` /
    ``p90 ms`` of the wait from when a message was due to its receipt.
    """
    rows = []
    for label, result in runs.items():
        polls = result.polls
        before = polls_until_last(result)
        waits = pd.to_numeric(
            first_deliveries(after_due(result))["latency_ms"], errors="coerce"
        ).dropna()
        rows.append(
            {
                "run": str(label),
                "messages": int(result.sends["sent"].sum()),
                "receive calls": len(polls),
                "empty": int(polls["empty"].astype(bool).sum()),
                "empty before last": int(before["empty"].astype(bool).sum()),
                "added by stop": len(polls) - len(before),
                "false empties": result.summary.get("false_empties"),
                "p50 ms": _percentile(waits, 0.5),
                "p90 ms": _percentile(waits, 0.9),
            }
        )
    return pd.DataFrame(rows).set_index("run")


def polls_until_last(result: Any) -> pd.DataFrame:
    """The receive calls a run made up to the one that brought its last new
    message (that call included): the calls made while traffic still came.

    ``result`` is anything with ``deliveries`` and ``polls`` tables. The
    calls after it were made only because the consumer's stop rule kept it
    listening; with no delivery at all, every call is after. Returns a new
    table.
    """
    polls: pd.DataFrame = result.polls
    first = first_deliveries(result.deliveries)
    if first.empty:
        return polls.iloc[0:0].copy()
    last = float(first["receive_time"].max())
    return polls[polls["end_time"] <= last].copy()


def _percentile(values: pd.Series, share: float) -> float | None:
    return round(float(values.quantile(share)), 1) if len(values) else None
