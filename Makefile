# One-command entry points. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit notebooks refresh-notebooks bench bench-smoke lab clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## The main job: the instructor demo on the offline model, report in report/demo/
demo: $(STAMP)
	$(BIN)/sqs-lab demo --out report/demo

## Everything CI runs: lint, types, unit tests, notebooks (strict nbval), benchmark smoke run
test: lint typecheck unit notebooks bench-smoke

lint: $(STAMP)
	$(BIN)/ruff check labsupport tests benchmarks solutions scripts
	$(BIN)/ruff format --check labsupport tests benchmarks solutions scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests

notebooks: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg notebooks

## Re-run every notebook in place after a change to the kit (then make notebooks)
refresh-notebooks: $(STAMP)
	$(BIN)/python scripts/refresh_notebooks.py

## Benchmarks at small sizes, so the scripts keep working (figures only indicative)
bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/bench_sim.py --quick
	$(BIN)/python benchmarks/bench_metrics.py --sizes 10000 --repeat 1
	$(BIN)/python benchmarks/bench_worker.py --quick

## Speed and memory figures at full size (not part of test: they take minutes)
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

## JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf $(VENV) report .pytest_cache .mypy_cache .ruff_cache
