# Two commands on a fresh machine: `make lab` to run the series, `make test` to test it.
# Each builds the virtual environment it needs (.venv) the first time.
# Another Python: `make test PYTHON=python3.13 VENV=.venv-3.13`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: lab test run bench chart clean

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e '.[test]'
	touch $@

lab: $(READY)
	$(BIN)/jupyter lab notebooks/

test: $(READY)
	$(BIN)/python -m pytest

# Execute every notebook into build/ (outputs and charts), then render the HTML book:
# one page per notebook and build/index.html linking them in order.
run: $(READY)
	rm -rf build
	$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
		--output-dir build notebooks/*.ipynb
	$(BIN)/python tools/build_book.py build

bench: $(READY)
	$(BIN)/python -m benchmarks.bench

# The README's chart: the sync loop and the async version, timed and drawn by the series' helpers.
chart: $(READY)
	$(BIN)/python tools/readme_chart.py docs/sync-vs-async-timeline.png

clean:
	rm -rf build .pytest_cache
