# `make run` starts the simulator on its embedded defaults; `make test` runs every test.
# Both create .venv and install what they need (only Python >= 3.11 and make required).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test bench clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/mailfrom-sim serve $(ARGS)

test: $(VENV)/.dev
	$(PY) -m pytest $(ARGS)

bench: $(VENV)/.dev
	rm -f .bench-goals.jsonl
	for script in bench/bench_*.py; do echo "== $$script"; BENCH_GOALS=.bench-goals.jsonl $(PY) $$script || exit 1; done
	$(PY) bench/common.py goals .bench-goals.jsonl

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
