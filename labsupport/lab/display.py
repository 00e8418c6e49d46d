"""What a lab notebook needs around the kit: set-up, tables, figures, errors.

:func:`setup` is the only function with lasting side effects, and only
when called: it attaches one log handler to the ``labsupport`` logger (at
WARNING), sets compact pandas display options and, inside IPython, makes a
matplotlib :class:`~matplotlib.figure.Figure` display as a PNG image with a
one-line text form, so a bare ``fig`` at the end of a cell shows the picture
and never ``<Figure size ...>``.
"""

from __future__ import annotations

import io
import logging
import platform
import sys
import textwrap
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from matplotlib.figure import Figure

from labsupport.backends import BACKENDS
from labsupport.errors import LabError

__all__ = [
    "FIGURE_DPI",
    "WrappedTable",
    "brief",
    "caught",
    "describe_backends",
    "describe_presets",
    "environment",
    "figure_png",
    "message_table",
    "model_only",
    "model_stats",
    "queue_depth",
    "setup",
    "show",
    "summary_table",
]

FIGURE_DPI = 80  # small PNGs keep the committed notebooks light
ID_COLUMNS = ("message_id", "entry_id", "receipt_handle")
PACKAGES = ("labsupport", "boto3", "botocore", "moto", "pandas", "matplotlib")
BACKEND_NOTES = {
    "sim": "the kit's seeded model of SQS, in-process, on a virtual clock",
    "moto": "moto in-process: the real API; in order, once, at once",
    "moto-server": "moto's server on a loopback port, shared by processes",
    "endpoint": "any SQS-compatible URL (ElasticMQ, LocalStack, a moto server)",
    "aws": "real Amazon SQS: costs money, opt-in only",
}

_HANDLER_NAME = "labsupport.lab"


def setup(level: int = logging.WARNING) -> None:
    """Prepare a notebook: kit warnings on stderr, compact tables, PNG figures.

    Side effects: adds (once) a stream handler named ``labsupport.lab`` to
    the ``labsupport`` logger and sets its level; sets pandas display
    options; silences DeprecationWarnings raised inside botocore and moto;
    registers figure formatters with the running IPython shell, if any.
    Calling it again changes nothing more.
    """
    kit_logger = logging.getLogger("labsupport")
    kit_logger.setLevel(level)
    if not any(h.get_name() == _HANDLER_NAME for h in kit_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        kit_logger.addHandler(handler)
    pd.set_option("display.max_rows", 12)
    pd.set_option("display.min_rows", 10)
    pd.set_option("display.precision", 3)
    pd.set_option("display.width", 79)
    for module in ("botocore", "moto"):
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=rf"{module}(\.|$)"
        )
    _register_figure_formatters()


def _register_figure_formatters() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to register
        return
    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, figure_png)
    formatters["text/plain"].for_type(Figure, _figure_text)


def figure_png(figure: Figure, dpi: int = FIGURE_DPI) -> bytes:
    """The figure as PNG bytes at ``dpi`` dots per inch, without a date stamp."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _figure_text(figure: Figure, printer: Any, cycle: bool) -> None:
    """The text form of a figure: its title, never its size and address."""
    printer.text(f"[figure: {_title(figure)}]")


def _title(figure: Figure) -> str:
    suptitle = figure.get_suptitle()
    if suptitle:
        return suptitle
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    return "; ".join(titles) or "untitled"


def show(figure: Figure, dpi: int = FIGURE_DPI) -> None:
    """Display a figure as a PNG image only (no text form) in a notebook."""
    from IPython.display import display

    display({"image/png": figure_png(figure, dpi)}, raw=True)  # type: ignore[no-untyped-call]


@contextmanager
def caught() -> Iterator[None]:
    """Run a block that is meant to fail; print its error on one line.

    Catches the kit's own errors (raised before anything is sent) and
    botocore's (what the service, or botocore's own checks, answered). Any
    other exception passes through. Prints ``no error`` if the block
    succeeded, so a cell that should have failed says so.
    """
    try:
        yield
    except LabError as err:
        print(f"{type(err).__name__}: {_one_line(str(err))}")
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code", "Unknown")
        print(f"ClientError {code}: {_one_line(str(error.get('Message', '')))}")
    except BotoCoreError as err:
        print(f"{type(err).__name__}: {_one_line(str(err))}")
    else:
        print("no error")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def brief(table: pd.DataFrame, start: float | None = None) -> pd.DataFrame:
    """A table for reading: no id columns, times as seconds since ``start``.

    Columns named in :data:`ID_COLUMNS` are dropped (ids differ from run to
    run on most backends). Columns ending in ``_time`` become seconds since
    ``start`` (default: the earliest time in those columns), rounded to the
    millisecond. Returns a new table; the input is not changed.
    """
    out = table.drop(columns=[c for c in ID_COLUMNS if c in table.columns])
    time_columns = [c for c in out.columns if str(c).endswith("_time")]
    if not time_columns:
        return out
    times = out[time_columns].apply(pd.to_numeric, errors="coerce")
    origin = float(times.min().min()) if start is None else float(start)
    out[time_columns] = (times - origin).round(3)
    return out


def message_table(messages: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Messages as ReceiveMessage returns them, as a table without ids.

    Columns: ``body`` (cut at 40 characters), ``receive_count``
    (ApproximateReceiveCount, if it was asked for) and ``group`` (the
    MessageGroupId on FIFO queues, else empty).
    """
    rows = []
    for msg in messages:
        attributes = msg.get("Attributes", {})
        body = str(msg.get("Body", ""))
        rows.append(
            {
                "body": body if len(body) <= 40 else body[:37] + "...",
                "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
                "group": attributes.get("MessageGroupId", ""),
            }
        )
    return pd.DataFrame(rows, columns=["body", "receive_count", "group"])


def environment() -> pd.DataFrame:
    """The Python version and the versions of the packages the labs use."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in PACKAGES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows).set_index("package")


class WrappedTable:
    """A table of prose shown in full: its last column wraps, nothing is cut.

    pandas shortens long text in a cell to "...". This shows the same
    table with the last column wrapped at ``width`` columns in plain text
    (and in full in HTML). ``frame`` is the DataFrame itself.
    """

    def __init__(self, frame: pd.DataFrame, width: int = 79) -> None:
        self.frame = frame
        self.width = width

    def _repr_html_(self) -> str:
        html: str = self.frame.to_html()
        return html

    def __repr__(self) -> str:
        table = self.frame.reset_index()
        columns = [str(c) for c in table.columns]
        cells = [[str(v) for v in row] for row in table.itertuples(index=False)]
        widths = [
            max([len(name)] + [len(row[i]) for row in cells])
            for i, name in enumerate(columns[:-1])
        ]
        last = max(20, self.width - sum(w + 2 for w in widths))
        lines = [_row(columns[:-1], widths, [columns[-1]])]
        lines.append(_row(["-" * w for w in widths], widths, ["-" * last]))
        for row in cells:
            lines.append(_row(row[:-1], widths, textwrap.wrap(row[-1], last) or [""]))
        return "\n".join(lines)


def _row(first: list[str], widths: list[int], wrapped: list[str]) -> str:
    """One table row: the narrow columns, then the wrapped text under itself."""
    lead = "".join(
        f"{text:<{width}}  " for text, width in zip(first, widths, strict=True)
    )
    pad = " " * len(lead)
    return "\n".join(
        (lead if n == 0 else pad) + part for n, part in enumerate(wrapped)
    ).rstrip()


def describe_backends() -> WrappedTable:
    """One row per backend ``connect`` knows, with what it is (in full)."""
    rows = [
        {"backend": name, "what it is": BACKEND_NOTES.get(name, "")}
        for name in BACKENDS
    ]
    return WrappedTable(pd.DataFrame(rows).set_index("backend"))


def describe_presets() -> WrappedTable:
    """One row per preset of the ``sim`` backend: exaggerated or not, and why."""
    from labsupport.sim.params import PRESETS

    rows = [
        {
            "preset": name,
            "exaggerated": params.exaggerated,
            "description": params.description,
        }
        for name, params in PRESETS.items()
    ]
    return WrappedTable(pd.DataFrame(rows).set_index("preset"))


SUMMARY_ROWS = (
    "messages_sent",
    "duplicates",
    "missing",
    "inversions",
    "receive_calls",
    "empty_receives",
)


def summary_table(runs: Mapping[str, Any]) -> pd.DataFrame:
    """Several runs' summaries side by side, one row per run.

    ``runs`` maps a label to an experiment result (anything with a
    ``summary`` dict). Columns: the counts of :data:`SUMMARY_ROWS`, then the
    latency percentiles as ``p50 ms`` and so on. Wall-clock figures are left
    out, so the table is the same on every run of a seeded backend.
    """
    rows = []
    for label, result in runs.items():
        summary = result.summary
        row: dict[str, Any] = {"run": str(label)}
        row.update({key: summary.get(key) for key in SUMMARY_ROWS})
        for key, value in (summary.get("latency_ms") or {}).items():
            row[f"{key} ms"] = value
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def model_stats(conn: Any, *keys: str) -> dict[str, Any]:
    """The ``sim`` model's counters named ``keys`` (all if none), or a note.

    Only the ``sim`` backend counts what happened inside the service (false
    empties, missed deletes, dead-letter moves); on any other backend this
    returns ``{"note": ...}`` instead of failing.
    """
    model = getattr(conn, "details", {}).get("model")
    if model is None:
        return {"note": f"the {conn.backend} backend does not expose counters"}
    stats: dict[str, Any] = model.stats()
    if not keys:
        return stats
    return {key: stats.get(key, 0) for key in keys}


def model_only(conn: Any, why: str) -> bool:
    """True on the ``sim`` model's virtual clock; elsewhere a note and False.

    For notebook cells that rely on the model's behaviour or on its virtual
    clock (waiting minutes at once): on another backend they would fail or
    wait in real time. Use as ``if model_only(conn, "why"):``; on any other
    backend this prints one line, ``skipped on <backend>: <why>``.
    """
    if conn.backend == "sim" and getattr(conn.clock, "virtual", False):
        return True
    print(f"skipped on {conn.backend}: {why}")
    return False


def queue_depth(conn: Any, queue_url: str) -> dict[str, int]:
    """Messages on a queue: visible, in flight and delayed (approximate).

    One GetQueueAttributes call. On the real service these counts are
    approximate and lag by up to a minute or so; on ``sim`` they are exact.
    """
    names = {
        "visible": "ApproximateNumberOfMessages",
        "in flight": "ApproximateNumberOfMessagesNotVisible",
        "delayed": "ApproximateNumberOfMessagesDelayed",
    }
    answer = conn.client.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(names.values())
    )
    attributes = answer.get("Attributes", {})
    return {key: int(attributes.get(name, 0)) for key, name in names.items()}
