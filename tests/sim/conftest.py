"""Fixtures for the sim backend's tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labsupport.sim.backend import open_sim

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _no_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def ideal() -> Iterator[Any]:
    """A connection to the ideal model: in order, exactly once, no latency."""
    with open_sim(preset="ideal", seed=7) as conn:
        yield conn


@pytest.fixture
def client(ideal: Any) -> Any:
    return ideal.client


@pytest.fixture
def model(ideal: Any) -> Any:
    return ideal.details["model"]
