# Two commands on a fresh machine: `make lab` to run the series, `make test` to test it.
# Each builds the virtual environment it needs (.venv) the first time.
# Another Python: `make test PYTHON=python3.13 VENV=.venv-3.13`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
HUB_VENV := .venv-hub
HUB_READY := $(HUB_VENV)/.ready
ROOM_LATENCY ?= 0.3
ROOM_PORT ?= 8000
ROOM_HOST ?= 0.0.0.0

.PHONY: lab room test test-newest test-browser test-hub bench-hub run bench bench-class bench-stall bench-memory bench-clients chart clean

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e '.[test,classroom]'
	touch $@

# The hub's tests in a venv of their own: jupyterhub brings aiodns, which changes how aiohttp
# resolves names, and the series' own venv should resolve them as a student's laptop does.
$(HUB_READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(HUB_VENV)/bin/python -m pip install --quiet -r requirements.txt -e '.[test,hub]'
	touch $@

# JupyterLab on copies of the notebooks in my-notebooks/ (tools/lab.py says why), again and again:
# a copy you already have is never overwritten. As root it adds --allow-root, and says so.
lab: $(READY)
	$(BIN)/python -m tools.lab $(LAB_ARGS)

# The teacher's server for a room (docs/classroom.md): every interface, port 8000, latency 0.3 s.
room: $(READY)
	$(BIN)/python -m helpers.room --latency $(ROOM_LATENCY) --host $(ROOM_HOST) --port $(ROOM_PORT)

# Two test files at a time (pytest-xdist): most of the suite waits on notebooks and servers, and
# every timing test allows for a busy machine (the suite passes with two whole runs side by side).
test: $(READY)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 $(TESTS)

# The whole suite on Python 3.14 and 3.15 too, from Debian's packages in a small root that the
# script builds the first time (it needs root: CI and this machine have it). On a laptop with
# its own Python 3.15: `make test PYTHON=python3.15 VENV=.venv-3.15`.
test-newest:
	tools/newest-pythons.sh

# The slider notebooks in a real JupyterLab, driven by Chromium (Debian's `chromium` package,
# or the browser Playwright downloads where that package is missing).
test-browser: $(READY)
	command -v chromium >/dev/null || [ -n "$$CHROMIUM" ] || $(BIN)/python -m playwright install chromium
	$(BIN)/python -m pytest -m browser tests/browser -s

# A class of ten on a real JupyterHub (tools/hub.py): needs npm for the hub's proxy, installed
# into .hub/ the first time, and Chromium as for test-browser.
test-hub: $(HUB_READY)
	$(HUB_VENV)/bin/python -m pytest -m hub tests/test_jupyterhub.py

# Thirty students on a real JupyterHub, running 02 and 05: what a hub host needs for a class.
bench-hub: $(HUB_READY)
	$(HUB_VENV)/bin/python -m benchmarks.hub_bench

# Execute every notebook into build/ (outputs and charts), then render the HTML book:
# one page per notebook and build/index.html linking them in order.
run: $(READY)
	rm -rf build
	$(BIN)/python -m tools.notebooks build notebooks/*.ipynb
	$(BIN)/python -m tools.build_book build

bench: $(READY)
	$(BIN)/python -m benchmarks.bench
	$(BIN)/python -m benchmarks.trace_bench

# A class of 30 students x 200 requests against one teacher's server, under three open-file limits.
bench-class: $(READY)
	$(BIN)/python -m benchmarks.class_bench

# Each slider notebook run 30 times headless: the distribution of wall times shows no stall.
# `make bench-stall ARGS=--plain` runs them with nbclient's own kernel client instead.
bench-stall: $(READY)
	$(BIN)/python -m benchmarks.stall $(ARGS)

# Four HTTP clients at 1,000 requests at once: aiohttp, httpx, httpx2 and niquests. In a venv of
# its own: niquests' transport, urllib3-future, can replace the urllib3 that requests uses.
bench-clients:
	$(PYTHON) -m venv .venv-clients
	.venv-clients/bin/python -m pip install --quiet -e . httpx httpx2 niquests
	.venv-clients/bin/python -m benchmarks.clients

# The memory one student needs, notebook by notebook at its defaults: for sizing a JupyterHub host.
bench-memory: $(READY)
	$(BIN)/python -m benchmarks.memory

# The README's chart: the sync loop and the async version, timed and drawn by the series' helpers.
chart: $(READY)
	$(BIN)/python tools/readme_chart.py docs/sync-vs-async-timeline.png

clean:
	rm -rf build .pytest_cache
