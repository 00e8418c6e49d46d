"""Every lab notebook is committed clean: executed in order, readable, no leaks.

These read the .ipynb files as JSON; they do not run the notebooks (the
Makefile's nbval step does that).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
MAX_CODE_COLUMNS = 79
MACHINE_PATHS = re.compile(r"/(root|home|tmp|work)/")
AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b")
AWS_SECRET = re.compile(r"aws_secret_access_key\s*[=:]\s*\S{20,}", re.IGNORECASE)
FORBIDDEN_OUTPUT = ("Warning", "<Figure size")
IGNORE_TAG = "nbval-ignore-output"
IGNORE_MARKER = "NBVAL_IGNORE_OUTPUT"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def output_texts(notebook: dict) -> list[str]:
    """Every text an output holds: streams, text data, error tracebacks."""
    texts = []
    for cell in code_cells(notebook):
        for output in cell.get("outputs", []):
            pieces = [output.get("text", "")]
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/") or kind == "application/json":
                    pieces.append(value if isinstance(value, str) else str(value))
            pieces.extend(output.get("traceback", []))
            texts.extend("".join(p) if isinstance(p, list) else p for p in pieces)
    return texts


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.fixture(params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def notebook(request) -> dict:
    return load(request.param)


def test_there_are_notebooks_to_check():
    names = [path.name for path in NOTEBOOKS]

    assert "00_setup_first_message.ipynb" in names


def test_kernel_is_python3(notebook):
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_execution_counts_run_one_to_n_in_order(notebook):
    counts = [cell.get("execution_count") for cell in code_cells(notebook)]

    assert counts == list(range(1, len(counts) + 1))


def test_no_code_line_is_wider_than_79_columns(notebook):
    wide = [
        line
        for cell in code_cells(notebook)
        for line in source(cell).splitlines()
        if len(line) > MAX_CODE_COLUMNS
    ]

    assert wide == []


def test_one_cell_is_tagged_parameters(notebook):
    tagged = [cell for cell in code_cells(notebook) if "parameters" in tags(cell)]

    assert len(tagged) == 1


def test_a_markdown_title_comes_first(notebook):
    first = notebook["cells"][0]

    assert first["cell_type"] == "markdown"
    assert source(first).startswith("# ")


def test_outputs_hold_no_machine_paths(notebook):
    leaks = [text for text in output_texts(notebook) if MACHINE_PATHS.search(text)]

    assert leaks == []


def test_nothing_looks_like_an_aws_key(notebook):
    texts = output_texts(notebook) + [source(c) for c in notebook["cells"]]
    found = [t for t in texts if AWS_KEY_ID.search(t) or AWS_SECRET.search(t)]

    assert found == []


@pytest.mark.parametrize("forbidden", FORBIDDEN_OUTPUT)
def test_outputs_hold_no_warnings_or_figure_reprs(notebook, forbidden):
    found = [text for text in output_texts(notebook) if forbidden in text]

    assert found == []


def test_no_output_is_an_error(notebook):
    kinds = [
        output["output_type"]
        for cell in code_cells(notebook)
        for output in cell.get("outputs", [])
    ]

    assert "error" not in kinds


def test_every_ignored_output_says_why_in_a_comment(notebook):
    ignored = [
        cell
        for cell in code_cells(notebook)
        if IGNORE_TAG in tags(cell) or IGNORE_MARKER in source(cell)
    ]
    unexplained = [
        source(cell)
        for cell in ignored
        if not any(
            len(line.strip().lstrip("#").split()) >= 3
            for line in source(cell).splitlines()
            if line.strip().startswith("#") and IGNORE_MARKER not in line
        )
    ]

    assert unexplained == []
