"""Plots of an experiment: latency, order, duplicates, empty receives.

Each function returns a new :class:`matplotlib.figure.Figure` built without
pyplot, so nothing global changes (no current figure, no rcParams) and it
works without a display. In a notebook the figure shows when it is the last
value of a cell; elsewhere call ``figure.savefig(path)``, or
:func:`save_all` for the standard set of PNG files.

Functions take the tables of :mod:`labsupport.experiment.records`, or any
object with ``sends``, ``deliveries`` and ``polls`` attributes (such as an
``ExperimentResult``). Latencies are in milliseconds; colours come from the
Okabe-Ito palette, which readers with colour-vision deficiencies can tell
apart, and series also differ by marker or line style.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labsupport import metrics

__all__ = [
    "PALETTE",
    "ResultLike",
    "compare_runs",
    "deliveries_per_message",
    "latency_cdf",
    "latency_histogram",
    "messages_per_receive",
    "order_plot",
    "save_all",
]

logger = logging.getLogger(__name__)

# Okabe & Ito, "Color Universal Design" (2008): eight colours that stay
# distinct under the common colour-vision deficiencies.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
_SERIES = ["blue", "orange", "green", "vermillion", "purple", "sky", "black"]
_LINE_STYLES = ["-", "--", "-.", ":"]
_PERCENTILE_STYLES = {
    "p50": ("green", "--"),
    "p90": ("orange", "-."),
    "p99": ("vermillion", ":"),
}

_SIZE = (7.0, 4.5)  # inches; 700 x 450 pixels at the 100 dpi of save_all
_DPI = 100


class ResultLike(Protocol):
    """What the plots need of an experiment result: its three tables."""

    @property
    def sends(self) -> pd.DataFrame: ...

    @property
    def deliveries(self) -> pd.DataFrame: ...

    @property
    def polls(self) -> pd.DataFrame: ...


Tables = pd.DataFrame | ResultLike


def _table(source: Tables, name: str) -> pd.DataFrame:
    """The DataFrame itself, or the table ``name`` of a result."""
    if isinstance(source, pd.DataFrame):
        return source
    table: pd.DataFrame = getattr(source, name)
    return table


def _new_figure(size: tuple[float, float] = _SIZE) -> tuple[Figure, Axes]:
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def _no_data(ax: Axes, text: str) -> None:
    """Say on the axes that there is nothing to draw."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")


def _latencies(deliveries: pd.DataFrame) -> npt.NDArray[np.float64]:
    """First-receipt latencies in milliseconds, sorted, without gaps."""
    first = metrics.first_deliveries(deliveries)
    values = pd.to_numeric(first["latency_ms"], errors="coerce").dropna()
    return np.sort(values.to_numpy(dtype=float))


def _log_axis(ax: Axes, values: npt.NDArray[np.float64]) -> None:
    """Log scale for latencies; symlog (linear below 1 ms) if any is <= 0."""
    if values.size and values.min() <= 0:
        ax.set_xscale("symlog", linthresh=1.0)
        # half a millisecond of room, so a run at 0 ms is not hidden by the spine
        ax.set_xlim(left=min(float(values.min()), 0.0) - 0.5)
    else:
        ax.set_xscale("log")


def latency_histogram(
    deliveries: Tables, *, log_x: bool = False, first_only: bool = True, bins: int = 40
) -> Figure:
    """Histogram of send-to-receive latency, with p50, p90 and p99 marked.

    Args:
        deliveries: the deliveries table, or a result holding it.
        log_x: latency axis (milliseconds) on a log scale, with bins of
            equal width on that scale.
        first_only: only each message's first delivery (the default); with
            False, redeliveries count too.
        bins: number of bins.
    """
    table = _table(deliveries, "deliveries")
    figure, ax = _new_figure()
    which = "first receipt" if first_only else "every delivery"
    ax.set_title(f"Send-to-receive latency ({which})")
    ax.set_xlabel("latency (ms, log scale)" if log_x else "latency (ms)")
    ax.set_ylabel("deliveries (count)")

    rows = metrics.first_deliveries(table) if first_only else table
    latency = pd.to_numeric(rows["latency_ms"], errors="coerce").dropna()
    values = latency.to_numpy(dtype=float)
    if values.size == 0:
        _no_data(ax, "no deliveries")
        return figure

    edges = _bin_edges(values, bins, log_x)
    ax.hist(
        values,
        bins=[float(edge) for edge in edges],
        color=PALETTE["blue"],
        label="deliveries",
    )
    if log_x:
        _log_axis(ax, values)
    found = metrics.latency_percentiles(table, first_only=first_only)
    for key, (colour, style) in _PERCENTILE_STYLES.items():
        label = f"{key} = {found[key]:,.1f} ms"
        ax.axvline(found[key], color=PALETTE[colour], linestyle=style, label=label)
    ax.legend()
    return figure


def _bin_edges(
    values: npt.NDArray[np.float64], bins: int, log_x: bool
) -> npt.NDArray[np.float64]:
    """Bin edges even on a linear or a log scale (a 0 edge for values <= 0)."""
    low, high = float(values.min()), float(values.max())
    if not log_x:
        edges: npt.NDArray[np.float64] = np.histogram_bin_edges(values, bins=bins)
        return edges
    positive = values[values > 0]
    smallest = float(positive.min()) if positive.size else 1.0
    top = max(high, smallest * 1.01)
    edges = np.geomspace(smallest, top, bins + 1)
    if low <= 0:
        edges = np.concatenate(([min(low, 0.0)], edges))
    return edges


def latency_cdf(runs: Tables | Mapping[str, Tables], *, log_x: bool = True) -> Figure:
    """Cumulative share of messages received within each latency.

    Args:
        runs: one deliveries table (or result), or a mapping of run label to
            deliveries table (or result) to overlay several runs.
        log_x: latency axis (milliseconds) on a log scale (the default).

    Only first receipts count; the share is of messages received, so a run
    with missing messages still reaches 1.0. A single result is labelled
    with its backend (and ``sim`` preset) from its summary and params; a
    single bare table gets no legend, only its message count.
    """
    figure, ax = _new_figure()
    _draw_cdf(ax, _runs(runs), log_x)
    return figure


def _runs(runs: Tables | Mapping[str, Tables]) -> dict[str | None, pd.DataFrame]:
    """Deliveries tables by run label (None: a single run without a name)."""
    if isinstance(runs, Mapping):
        return {str(label): _table(run, "deliveries") for label, run in runs.items()}
    return {_result_label(runs): _table(runs, "deliveries")}


def _result_label(run: Tables) -> str | None:
    """``backend (preset)`` from a result's summary and params, if it has them."""
    summary = getattr(run, "summary", None)
    backend = summary.get("backend") if isinstance(summary, Mapping) else None
    if not backend:
        return None
    params = getattr(run, "params", None)
    preset = params.get("preset") if isinstance(params, Mapping) else None
    return f"{backend} ({preset})" if preset else str(backend)


def _draw_cdf(
    ax: Axes,
    runs: Mapping[str | None, pd.DataFrame],
    log_x: bool,
    legend_below: bool = False,
) -> None:
    ax.set_title("Latency CDF (first receipt)")
    ax.set_xlabel("latency (ms, log scale)" if log_x else "latency (ms)")
    ax.set_ylabel("share of received messages (0-1)")
    ax.set_ylim(0.0, 1.02)

    drawn = np.empty(0)
    for number, (label, deliveries) in enumerate(runs.items()):
        values = _latencies(deliveries)
        if values.size == 0:
            continue
        share = np.arange(1, values.size + 1) / values.size
        count = f"{values.size:,} messages"
        ax.step(
            values,
            share,
            where="post",
            color=PALETTE[_SERIES[number % len(_SERIES)]],
            linestyle=_LINE_STYLES[number % len(_LINE_STYLES)],
            label="_nolegend_" if label is None else f"{label} ({count})",
        )
        if label is None:
            ax.text(0.98, 0.04, count, transform=ax.transAxes, ha="right")
        drawn = np.concatenate((drawn, values))
    if drawn.size == 0:
        _no_data(ax, "no deliveries")
        return
    for level in (0.5, 0.9, 0.99):
        ax.axhline(level, color="0.8", linewidth=0.8, zorder=0)
    if log_x:
        _log_axis(ax, drawn)
    if all(label is None for label in runs):
        return
    if legend_below:
        # under the axes, so no curve is hidden (they all climb to 1.0)
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.18),
            ncols=1,
            fontsize="small",
            frameon=False,
        )
    else:
        # a CDF's lower right stays empty: curves reach it only at the top
        ax.legend(loc="lower right", fontsize="small")


def order_plot(deliveries: Tables) -> Figure:
    """Send sequence number against position in receive order.

    Each message's first delivery is a dot at (how many distinct messages
    had been received by then, its seq). Messages received in send order
    sit on the diagonal; a dot above it came early, below it came late.
    Redeliveries are crosses at the position reached when they arrived.
    """
    table = _table(deliveries, "deliveries")
    figure, ax = _new_figure()
    ax.set_title("Receive order vs send order")
    ax.set_xlabel("position in receive order (distinct messages received so far)")
    ax.set_ylabel("send sequence number (seq)")
    if len(table) == 0:
        _no_data(ax, "no deliveries")
        return figure

    in_order = table.sort_values(["poll", "position"], kind="stable")
    seqs = in_order["seq"].astype("int64").to_numpy()
    is_first = ~in_order["seq"].duplicated().to_numpy()
    position = np.cumsum(is_first) - 1

    last = int(position[-1])
    ax.plot(
        [0, last], [0, last], color="black", linestyle="--", label="in order", zorder=3
    )
    ax.scatter(
        position[is_first],
        seqs[is_first],
        s=6,
        color=PALETTE["blue"],
        label=f"first delivery ({int(is_first.sum()):,})",
    )
    if (~is_first).any():
        ax.scatter(
            position[~is_first],
            seqs[~is_first],
            s=24,
            marker="x",
            color=PALETTE["vermillion"],
            label=f"duplicate ({int((~is_first).sum()):,})",
        )
    order = seqs[is_first]
    ratio = metrics.adjacent_inversion_ratio(order)
    note = f"{metrics.count_inversions(order):,} inversions, {ratio:.1%} of neighbours"
    ax.text(0.99, 0.02, note, transform=ax.transAxes, ha="right", va="bottom")
    ax.legend(loc="upper left")
    return figure


def deliveries_per_message(
    sends: Tables, deliveries: pd.DataFrame | None = None
) -> Figure:
    """Bar chart: how many sent messages were delivered 0, 1, 2, ... times.

    Pass the sends and deliveries tables, or one result. The 0 bar is the
    missing messages, bars past 1 the duplicated ones.
    """
    if deliveries is None:
        deliveries = _table(sends, "deliveries")
    counts = metrics.deliveries_per_message(_table(sends, "sends"), deliveries)
    figure, ax = _new_figure()
    ax.set_title("Deliveries per message")
    ax.set_xlabel("deliveries of one message (0 = missing)")
    ax.set_ylabel("messages (count)")
    if int(counts.sum()) == 0:
        _no_data(ax, "no messages sent")
        return figure

    times = counts.index.to_numpy()
    colours = [_delivery_colour(int(n)) for n in times]
    bars = ax.bar(times, counts.to_numpy(), color=colours)
    ax.bar_label(bars)
    ax.set_xticks(times)
    return figure


def _delivery_colour(times: int) -> str:
    if times == 0:
        return PALETTE["vermillion"]
    return PALETTE["blue"] if times == 1 else PALETTE["orange"]


def messages_per_receive(polls: Tables) -> Figure:
    """Bar chart: how many receive calls returned 0, 1, ..., 10 messages.

    The 0 bar (empty receives) stands out in another colour.
    """
    table = _table(polls, "polls")
    counts = metrics.messages_per_receive(table)
    figure, ax = _new_figure()
    ax.set_title("Messages per receive call")
    ax.set_xlabel("messages returned by one receive call")
    ax.set_ylabel("receive calls (count)")
    if len(table) == 0:
        _no_data(ax, "no receive calls")
        return figure

    returned = counts.index.to_numpy()
    heights = counts.to_numpy()
    share = metrics.empty_receive_ratio(table)
    empty = ax.bar(
        returned[:1],
        heights[:1],
        color=PALETTE["vermillion"],
        hatch="//",
        label=f"empty: {int(heights[0]):,} of {len(table):,} calls ({share:.1%})",
    )
    full = ax.bar(
        returned[1:], heights[1:], color=PALETTE["blue"], label="with messages"
    )
    for bars in (empty, full):
        ax.bar_label(bars, padding=2)
    ax.margins(y=0.12)
    ax.set_xticks(returned)
    ax.legend(loc="upper center")
    return figure


def compare_runs(results: Mapping[str, ResultLike]) -> Figure:
    """Several runs side by side: latency CDFs, inversions, losses, empties.

    Args:
        results: run label to result (anything with the three tables).

    Returns:
        A 2 x 2 figure: latency CDF overlay, inversions per run, duplicates
        and missing messages per run, and share of empty receives per run.
    """
    figure = Figure(figsize=(11.0, 8.0), layout="constrained")
    figure.suptitle("Runs compared")
    (cdf, inversions), (losses, empties) = figure.subplots(2, 2, squeeze=False)
    labels = [str(label) for label in results]
    _draw_cdf(
        cdf,
        {str(k): r.deliveries for k, r in results.items()},
        log_x=True,
        legend_below=True,
    )

    runs = list(results.values())
    counts = [metrics.ledger(r.sends, r.deliveries) for r in runs]
    found = [
        metrics.count_inversions(metrics.receive_order(r.deliveries)) for r in runs
    ]
    _bars(inversions, labels, {"inversions": found}, "inversions (pairs out of order)")
    inversions.set_title("Receive-order inversions")
    both = {
        "duplicates": [c.duplicates for c in counts],
        "missing": [c.missing for c in counts],
    }
    _bars(losses, labels, both, "deliveries / messages (count)")
    losses.set_title("Duplicate deliveries and missing messages")
    ratios = [metrics.empty_receive_ratio(r.polls) for r in runs]
    _bars(empties, labels, {"empty receives": ratios}, "share of receive calls (0-1)")
    empties.set_title("Empty receives")
    empties.set_ylim(0.0, 1.1)  # room for the label of a bar at 1.0
    return figure


def _bars(
    ax: Axes, labels: list[str], series: Mapping[str, list[int] | list[float]], y: str
) -> None:
    """Grouped bars: one group per run, one bar per series, each labelled.

    Every bar carries its value, so a bar of height 0 still says "0".
    """
    ax.set_ylabel(y)
    ax.set_xlabel("run")
    if not labels:
        _no_data(ax, "no runs")
        return
    width = 0.8 / len(series)
    spots = np.arange(len(labels))
    for number, (name, values) in enumerate(series.items()):
        offset = (number - (len(series) - 1) / 2) * width
        colour = PALETTE[_SERIES[number % len(_SERIES)]]
        hatch = None if number == 0 else "//"
        # an undefined value (a share of no calls) is drawn at 0 and says n/a
        heights = [v if np.isfinite(v) else 0 for v in values]
        bars = ax.bar(
            spots + offset, heights, width, color=colour, hatch=hatch, label=name
        )
        ax.bar_label(bars, labels=[_bar_text(v) for v in values], padding=2)
    ax.margins(y=0.12)  # room above the tallest bar for its label
    ax.set_xticks(spots, labels, rotation=20, ha="right")
    if len(series) > 1:
        ax.legend()


def _bar_text(value: float) -> str:
    """A bar's value as its label: whole numbers as such, shares to 2 places."""
    if not np.isfinite(value):
        return "n/a"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.2f}"


def save_all(result: ResultLike, out_dir: str | Path) -> list[Path]:
    """Write the standard plots of one run as PNG files.

    Side effects: creates ``out_dir`` if needed and writes (overwriting)
    latency_histogram.png, latency_cdf.png, order.png,
    deliveries_per_message.png and messages_per_receive.png at 100 dpi. The
    files carry no software or time stamp, so the same run gives the same
    bytes.

    Returns:
        The paths written, in that order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "latency_histogram.png": latency_histogram(result.deliveries),
        "latency_cdf.png": latency_cdf(result.deliveries),
        "order.png": order_plot(result.deliveries),
        "deliveries_per_message.png": deliveries_per_message(result),
        "messages_per_receive.png": messages_per_receive(result.polls),
    }
    written = []
    for name, figure in figures.items():
        path = out / name
        figure.savefig(path, dpi=_DPI, format="png", metadata={"Software": None})
        written.append(path)
    logger.info("wrote %s plots to %s", len(written), out)
    return written
