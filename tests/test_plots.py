"""Tests of labsupport.plots: titles, units, bars and the PNG files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from labsupport import plots
from labsupport.experiment.records import DELIVERY_COLUMNS, POLL_COLUMNS, SEND_COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STANDARD_FILES = [
    "latency_histogram.png",
    "latency_cdf.png",
    "order.png",
    "deliveries_per_message.png",
    "messages_per_receive.png",
]


@dataclass
class Run:
    """Stands in for an ExperimentResult: three tables and a summary."""

    sends: pd.DataFrame
    deliveries: pd.DataFrame
    polls: pd.DataFrame
    summary: dict[str, object]


def make_run() -> Run:
    # seq 0..5 sent; received over three polls as 1, 0, 2 | 1 again, 3 | 5;
    # seq 4 missing, seq 1 delivered twice
    sends = pd.DataFrame(
        [[s, f"e{s}", f"m{s}", True, 100.0, 10, 1, None, None, 0] for s in range(6)],
        columns=SEND_COLUMNS,
    )
    received = [
        (1, 0, 0, 12.0),
        (0, 0, 1, 15.0),
        (2, 0, 2, 20.0),
        (1, 1, 0, 3000.0),
        (3, 1, 1, 40.0),
        (5, 2, 0, 80.0),
    ]
    deliveries = pd.DataFrame(
        [
            [seq, f"m{seq}", 1, 100.0 + ms / 1000, poll, pos, ms, True]
            for seq, poll, pos, ms in received
        ],
        columns=DELIVERY_COLUMNS,
    )
    returned = [3, 2, 1, 0, 0]
    polls = pd.DataFrame(
        [[i, 100.0, 101.0, 0, 10, n, n == 0] for i, n in enumerate(returned)],
        columns=POLL_COLUMNS,
    )
    return Run(sends, deliveries, polls, summary={})


def empty_run() -> Run:
    return Run(
        pd.DataFrame(columns=SEND_COLUMNS),
        pd.DataFrame(columns=DELIVERY_COLUMNS),
        pd.DataFrame(columns=POLL_COLUMNS),
        summary={},
    )


def only_axes(figure: Figure) -> Axes:
    (ax,) = figure.axes
    return ax


def texts(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [text.get_text() for text in legend.get_texts()]


def bar_heights(ax: Axes) -> list[float]:
    return [patch.get_height() for patch in ax.patches]


# name, function on a Run, title, x label, y label
PLOTS: list[tuple[str, Callable[[Run], Figure], str, str, str]] = [
    (
        "histogram",
        lambda run: plots.latency_histogram(run.deliveries),
        "Send-to-receive latency (first receipt)",
        "latency (ms)",
        "deliveries (count)",
    ),
    (
        "cdf",
        lambda run: plots.latency_cdf(run.deliveries),
        "Latency CDF (first receipt)",
        "latency (ms, log scale)",
        "share of received messages (0-1)",
    ),
    (
        "order",
        lambda run: plots.order_plot(run.deliveries),
        "Receive order vs send order",
        "position in receive order (distinct messages received so far)",
        "send sequence number (seq)",
    ),
    (
        "per message",
        lambda run: plots.deliveries_per_message(run.sends, run.deliveries),
        "Deliveries per message",
        "deliveries of one message (0 = missing)",
        "messages (count)",
    ),
    (
        "per receive",
        lambda run: plots.messages_per_receive(run.polls),
        "Messages per receive call",
        "messages returned by one receive call",
        "receive calls (count)",
    ),
]
PLOT_IDS = [name for name, *_ in PLOTS]


def test_public_names_are_the_documented_ones() -> None:
    assert sorted(plots.__all__) == [
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


@pytest.mark.parametrize(("name", "draw", "title", "x", "y"), PLOTS, ids=PLOT_IDS)
def test_each_plot_is_titled_with_units_on_its_axes(
    name: str, draw: Callable[[Run], Figure], title: str, x: str, y: str
) -> None:
    figure = draw(make_run())

    ax = only_axes(figure)
    assert isinstance(figure, Figure)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (title, x, y)


@pytest.mark.parametrize(("name", "draw", "title", "x", "y"), PLOTS, ids=PLOT_IDS)
def test_each_plot_of_an_empty_run_says_there_is_no_data(
    name: str, draw: Callable[[Run], Figure], title: str, x: str, y: str
) -> None:
    figure = draw(empty_run())

    ax = only_axes(figure)
    assert ax.get_title() == title
    assert any(text.startswith("no ") for text in texts(ax))


def test_histogram_marks_first_receipt_percentiles() -> None:
    # first receipts 12, 15, 20, 40, 80 ms: p50 is the middle one
    ax = only_axes(plots.latency_histogram(make_run().deliveries))

    labels = legend_texts(ax)
    assert labels[1] == "p50 = 20.0 ms"
    assert [label[:3] for label in labels[1:]] == ["p50", "p90", "p99"]
    assert sum(bar_heights(ax)) == 5


def test_histogram_of_every_delivery_counts_the_redelivery() -> None:
    ax = only_axes(plots.latency_histogram(make_run(), first_only=False))

    assert sum(bar_heights(ax)) == 6
    assert ax.get_title() == "Send-to-receive latency (every delivery)"


def test_histogram_on_a_log_axis_says_so() -> None:
    ax = only_axes(plots.latency_histogram(make_run(), log_x=True))

    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "latency (ms, log scale)"


def test_log_histogram_keeps_a_zero_latency_in_its_first_bin() -> None:
    run = make_run()
    run.deliveries.loc[0, "latency_ms"] = 0.0

    ax = only_axes(plots.latency_histogram(run, log_x=True))

    assert ax.get_xscale() == "symlog"
    assert ax.patches[0].get_height() == 1
    assert sum(bar_heights(ax)) == 5


def test_cdf_of_a_zero_latency_switches_to_symlog() -> None:
    run = make_run()
    run.deliveries.loc[0, "latency_ms"] = 0.0

    ax = only_axes(plots.latency_cdf(run.deliveries))

    assert ax.get_xscale() == "symlog"


def test_cdf_overlays_labelled_runs() -> None:
    runs = {"long polling": make_run(), "short polling": make_run().deliveries}

    ax = only_axes(plots.latency_cdf(runs))

    assert legend_texts(ax) == [
        "long polling (5 messages)",
        "short polling (5 messages)",
    ]
    assert len(ax.lines) == 2 + 3  # two runs, guide lines at 0.5, 0.9, 0.99


def test_order_plot_draws_the_diagonal_and_marks_duplicates_apart() -> None:
    ax = only_axes(plots.order_plot(make_run()))

    assert legend_texts(ax) == ["in order", "first delivery (5)", "duplicate (1)"]
    first, duplicate = ax.collections
    # distinct messages so far: 1,0,2 -> 0,1,2; the copy of 1 comes at 2
    assert first.get_offsets().tolist() == [[0, 1], [1, 0], [2, 2], [3, 3], [4, 5]]
    assert duplicate.get_offsets().tolist() == [[2, 1]]
    assert first.get_facecolor()[0].tolist() != duplicate.get_facecolor()[0].tolist()
    assert texts(ax) == ["1 inversions, 25.0% of neighbours"]


def test_deliveries_per_message_bars_hand_counted() -> None:
    # seq 4 never (0), seq 0, 2, 3, 5 once, seq 1 twice
    ax = only_axes(plots.deliveries_per_message(make_run()))

    assert bar_heights(ax) == [1, 4, 1]
    assert to_hex(ax.patches[0].get_facecolor()) == plots.PALETTE["vermillion"].lower()


def test_messages_per_receive_bars_highlight_empty_calls() -> None:
    ax = only_axes(plots.messages_per_receive(make_run().polls))

    assert texts(ax) == ["2", "1", "1", "1", "0", "0", "0", "0", "0", "0", "0"]
    assert bar_heights(ax) == [2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    colours = {to_hex(patch.get_facecolor()) for patch in ax.patches[1:]}
    assert to_hex(ax.patches[0].get_facecolor()) not in colours
    assert legend_texts(ax)[0] == "empty: 2 of 5 calls (40.0%)"


def test_compare_runs_puts_each_run_on_four_panels() -> None:
    runs = {"first": make_run(), "second": make_run(), "empty": empty_run()}

    figure = plots.compare_runs(runs)

    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "Latency CDF (first receipt)",
        "Receive-order inversions",
        "Duplicate deliveries and missing messages",
        "Empty receives",
    ]
    inversions = figure.axes[1]
    assert [t.get_text() for t in inversions.get_xticklabels()] == list(runs)
    assert bar_heights(inversions) == [1, 1, 0]
    # duplicates first (1, 1, 0), then missing (1, 1, 0)
    assert bar_heights(figure.axes[2]) == [1, 1, 0, 1, 1, 0]


def test_compare_runs_labels_every_bar_with_its_value_zeros_too() -> None:
    runs = {"first": make_run(), "second": make_run(), "empty": empty_run()}

    _, inversions, losses, empties = plots.compare_runs(runs).axes

    assert texts(inversions) == ["1", "1", "0"]
    assert texts(losses) == ["1", "1", "0", "1", "1", "0"]
    # 2 of 5 polls empty; the empty run made no receive call at all
    assert texts(empties) == ["0.40", "0.40", "n/a"]


def test_compare_runs_puts_the_cdf_legend_below_its_curves() -> None:
    figure = plots.compare_runs({"first": make_run(), "second": make_run()})
    FigureCanvasAgg(figure).draw()
    cdf = figure.axes[0]

    legend_box = cdf.get_legend().get_window_extent()
    axes_box = cdf.get_window_extent()

    assert legend_box.y1 <= axes_box.y0  # wholly under the plotting area


def test_cdf_of_one_result_is_labelled_with_its_backend_and_preset() -> None:
    run = make_run()
    result = SimpleNamespace(
        sends=run.sends,
        deliveries=run.deliveries,
        polls=run.polls,
        summary={"backend": "sim"},
        params={"preset": "realistic"},
    )

    ax = only_axes(plots.latency_cdf(result))

    assert legend_texts(ax) == ["sim (realistic) (5 messages)"]


def test_cdf_of_one_bare_table_has_no_legend_only_its_count() -> None:
    ax = only_axes(plots.latency_cdf(make_run().deliveries))

    assert ax.get_legend() is None
    assert texts(ax) == ["5 messages"]


def test_save_all_writes_the_standard_pngs(tmp_path: Path) -> None:
    out = tmp_path / "plots"

    written = plots.save_all(make_run(), out)

    assert [path.name for path in written] == STANDARD_FILES
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (700, 450)


def test_save_all_gives_the_same_bytes_twice(tmp_path: Path) -> None:
    first = plots.save_all(make_run(), tmp_path / "a")
    again = plots.save_all(make_run(), tmp_path / "b")

    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]


def test_save_all_copes_with_an_empty_run(tmp_path: Path) -> None:
    written = plots.save_all(empty_run(), tmp_path)

    assert [path.read_bytes()[:8] for path in written] == [PNG_MAGIC] * 5


def test_plots_leave_matplotlib_settings_alone() -> None:
    before = dict(matplotlib.rcParams)

    plots.compare_runs({"run": make_run()})
    plots.latency_histogram(make_run(), log_x=True)

    assert dict(matplotlib.rcParams) == before


def test_importing_and_drawing_does_not_load_pyplot() -> None:
    script = (
        "import sys\n"
        "from labsupport import plots\n"
        "import pandas as pd\n"
        "from labsupport.experiment.records import POLL_COLUMNS\n"
        "plots.messages_per_receive(pd.DataFrame(columns=POLL_COLUMNS))\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert done.stdout.strip() == "False"
