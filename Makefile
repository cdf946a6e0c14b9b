# Sigsync: the two commands a newcomer types are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: run test soak bench lint clean help

help:
	@echo "make run    - set up and run the demo (Microsoft 365 simulator, portal, worker)"
	@echo "make test   - set up and run every test (SQLite; also PostgreSQL when TEST_DATABASE_URL is set)"
	@echo "make soak   - the model-based sync test for SOAK_SECONDS (default 1800); prints seeds to replay"
	@echo "make bench  - run the sync benchmarks (100,000 users) and print the table"
	@echo "make lint   - ruff"

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Sigsync needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) scripts/run_demo.py

test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

# The long model-based test (tests/property): strict, fresh seeds until SOAK_SECONDS are up.
# A failure prints its seed: SOAK_SEED=<seed> SOAK_SECONDS=1 make soak replays it.
soak: $(VENV)/.dev
	SOAK_SECONDS=$${SOAK_SECONDS:-1800} $(PY) -m pytest tests/property/test_sync_model.py \
		-k test_soak -s -p no:cacheprovider -o timeout=0 $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) -m bench $(BENCH_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
