# Release Portal — `make run` and `make test` do all their own set-up on a fresh machine.
# Python: the first of python3, python3.13, python3.12, python3.11 that is 3.11 or newer.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# Installs are hash-checked from requirements.lock (uv, itself hash-pinned in requirements-uv.lock).
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench worker beat venv clean-db lock

$(STAMP): pyproject.toml requirements.lock requirements-uv.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (python3 not found or older)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-uv.lock
	$(UV) pip install --quiet --python $(PY) --require-hashes -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@$(PY) manage.py demo_logins --url http://$(HOST):$(PORT)/
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs in two passes: everything that can, in parallel on every core (pytest-xdist,
# one test database per worker, whole files per worker, in collection order: the persona journeys
# first, see tests/conftest.py); then the `serial` tests one at a time (browser, live servers,
# the real Celery worker, the replica and fault clusters). Either pass may
# select nothing (exit 5) for a narrowed PYTEST_ARGS; both selecting nothing is a failure.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: $(STAMP)
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not serial" $(PYTEST_ARGS); a=$$?; \
	$(PY) -m pytest -m serial $(PYTEST_ARGS); b=$$?; \
	echo "make test: parallel pass exit $$a, serial pass exit $$b (5 = nothing selected)"; \
	[ $$a -eq 0 -o $$a -eq 5 ] && [ $$b -eq 0 -o $$b -eq 5 ] && [ $$a -ne 5 -o $$b -ne 5 ]

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

worker: $(STAMP)
	$(VENV)/bin/celery -A releaseportal worker --loglevel=INFO

beat: $(STAMP)
	$(VENV)/bin/celery -A releaseportal beat --loglevel=INFO

# Re-resolve requirements.lock after changing pyproject.toml's pins (hashes for every platform
# and every supported Python).
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--quiet -o requirements.lock

clean-db:
	rm -f var/db.sqlite3
