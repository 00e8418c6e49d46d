"""How fast the delivery metrics and plots are; prints figures, asserts nothing.

Run from the repository root:

    python benchmarks/bench_metrics.py            # 10^5 and 10^6 items
    python benchmarks/bench_metrics.py --plots    # also time each plot

``count_inversions`` is timed on several kinds of receive order: sorted (a
FIFO queue), nearly sorted (neighbours swapped, as a standard queue does
now and then), shuffled (the worst realistic case), reversed, and with
repeated values (redelivered seq numbers). Each figure is the best of
``--repeat`` runs. A plain-Python merge sort count is timed once at the
smallest size for scale, and checked to agree.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from labsupport import metrics, plots
from labsupport.experiment.records import DELIVERY_COLUMNS, POLL_COLUMNS, SEND_COLUMNS


def orders(size: int, seed: int) -> dict[str, npt.NDArray[np.int64]]:
    """Receive orders of ``size`` seq numbers, by kind."""
    rng = np.random.default_rng(seed)
    nearly = np.arange(size, dtype=np.int64)
    swap = rng.choice(size - 1, size // 20, replace=False)
    nearly[swap], nearly[swap + 1] = nearly[swap + 1], nearly[swap].copy()
    return {
        "sorted": np.arange(size, dtype=np.int64),
        "nearly sorted (5% swaps)": nearly,
        "shuffled": rng.permutation(size).astype(np.int64),
        "reversed": np.arange(size - 1, -1, -1, dtype=np.int64),
        "10 copies of each": rng.integers(0, size // 10, size, dtype=np.int64),
    }


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """Shortest wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def merge_count(values: list[int]) -> tuple[list[int], int]:
    """Reference: sort by merging and count the pairs crossed, in plain Python."""
    if len(values) < 2:
        return values, 0
    middle = len(values) // 2
    left, found_left = merge_count(values[:middle])
    right, found_right = merge_count(values[middle:])
    merged: list[int] = []
    found = found_left + found_right
    i = j = 0
    while i < len(left) and j < len(right):
        if right[j] < left[i]:
            merged.append(right[j])
            found += len(left) - i
            j += 1
        else:
            merged.append(left[i])
            i += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    return merged, found


def bench_inversions(sizes: list[int], repeat: int, seed: int) -> None:
    print(f"count_inversions (numpy, best of {repeat})")
    print(f"  {'items':>10}  {'order':<26}  {'inversions':>16}  {'time':>9}")
    for size in sizes:
        for kind, order in orders(size, seed).items():
            seconds = best_of(repeat, partial(metrics.count_inversions, order))
            found = metrics.count_inversions(order)
            print(f"  {size:>10,}  {kind:<26}  {found:>16,}  {seconds * 1000:>7.1f} ms")

    size = min(sizes)
    shuffled = orders(size, seed)["shuffled"]
    as_list = shuffled.tolist()
    start = time.perf_counter()
    _, expected = merge_count(as_list)
    seconds = time.perf_counter() - start
    agrees = expected == metrics.count_inversions(shuffled)
    print(
        f"  plain-Python merge sort, {size:,} shuffled: {seconds * 1000:.1f} ms "
        f"(agrees: {agrees})"
    )


@dataclass
class SyntheticRun:
    sends: pd.DataFrame
    deliveries: pd.DataFrame
    polls: pd.DataFrame


def synthetic_run(size: int, seed: int) -> SyntheticRun:
    """A run of ``size`` messages: lognormal latency, 2% copies, 1% missing.

    The rates are made up for timing only; they say nothing about SQS.
    """
    rng = np.random.default_rng(seed)
    send_time = 1_767_225_600.0 + np.arange(size) * 0.002
    sends = pd.DataFrame({"seq": np.arange(size), "sent": True}, columns=SEND_COLUMNS)
    sends["send_time"] = send_time

    kept = np.flatnonzero(rng.random(size) > 0.01)
    copies = kept[rng.random(kept.size) < 0.02]
    seqs = np.concatenate((kept, copies))
    latency_ms = rng.lognormal(np.log(30.0), 0.5, seqs.size)
    latency_ms[kept.size :] += 30_000.0  # a copy comes back after the timeout
    receive_time = send_time[seqs] + latency_ms / 1000
    order = np.argsort(receive_time, kind="stable")
    slot = np.arange(seqs.size)
    deliveries = pd.DataFrame(
        {
            "seq": seqs[order],
            "receive_time": receive_time[order],
            "poll": slot // 10,
            "position": slot % 10,
            "latency_ms": latency_ms[order],
        },
        columns=DELIVERY_COLUMNS,
    )

    returned = np.bincount(slot // 10)
    polls = pd.DataFrame(
        {"returned": np.append(returned, [0] * 20)}, columns=POLL_COLUMNS
    )
    polls["poll"] = np.arange(len(polls))
    polls["empty"] = polls["returned"] == 0
    return SyntheticRun(sends, deliveries, polls)


def bench_plots(size: int, repeat: int, seed: int) -> None:
    run = synthetic_run(size, seed)
    print(f"plots of a synthetic run of {size:,} messages (best of {repeat})")
    drawings: dict[str, Callable[[], object]] = {
        "summarize": lambda: metrics.summarize(
            run.sends,
            run.deliveries,
            run.polls,
            backend="bench",
            seed=seed,
            elapsed_s=0.0,
        ),
        "latency_histogram": lambda: _render(plots.latency_histogram(run)),
        "latency_cdf": lambda: _render(plots.latency_cdf(run)),
        "order_plot": lambda: _render(plots.order_plot(run)),
        "deliveries_per_message": lambda: _render(plots.deliveries_per_message(run)),
        "messages_per_receive": lambda: _render(plots.messages_per_receive(run)),
        "compare_runs (2 runs)": lambda: _render(
            plots.compare_runs({"a": run, "b": run})
        ),
    }
    for name, draw in drawings.items():
        seconds = best_of(repeat, draw)
        print(f"  {name:<24} {seconds * 1000:>7.1f} ms")
    with tempfile.TemporaryDirectory() as out:
        seconds = best_of(1, lambda: plots.save_all(run, Path(out)))
    print(f"  {'save_all (5 PNG files)':<24} {seconds * 1000:>7.1f} ms")


def _render(figure: Figure) -> None:
    """Draw the figure to PNG in memory, as saving would."""
    figure.savefig(io.BytesIO(), dpi=100, format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**5, 10**6])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plots", action="store_true", help="time the plots too")
    parser.add_argument("--plot-messages", type=int, default=2000)
    args = parser.parse_args()

    bench_inversions(args.sizes, args.repeat, args.seed)
    if args.plots:
        bench_plots(args.plot_messages, args.repeat, args.seed)


if __name__ == "__main__":
    main()
