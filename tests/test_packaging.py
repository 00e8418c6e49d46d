"""The project's metadata agrees with itself and with what the docs show."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import labsupport

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_requirements_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = set(project["project"]["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_block if not r.startswith("-e")}
    assert listed == wanted


def test_python_floor_agrees() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    assert "python>=3.11" in env["dependencies"]


def test_public_surface_is_what_the_readme_shows() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("connect", "run_experiment", "send_batches", "receive_repeatedly"):
        assert name in labsupport.__all__
        assert name in readme
    for name in labsupport.__all__:
        assert hasattr(labsupport, name)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert "make test" in ci
    assert "make demo" in readme
