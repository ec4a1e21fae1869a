# Cashdrawer developer commands.
#   make run    start the app on http://127.0.0.1:$(PORT)/ with demo data (SQLite by default)
#   make serve  the production server: gunicorn on $(HOST):$(PORT), PostgreSQL, no demo data
#   make test   lint, then the test suite on a throwaway PostgreSQL server
#   make test-faults  the real server under load and faults (storm, outages, lost answers)
#   make clean  remove the virtualenv and var/ (local database, dev secret key)
# PYTHON=/path/to/python3.12 picks the interpreter for a new .venv (run `make clean` first
# to switch an existing one). PYTEST_ARGS="..." is passed on to pytest.

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run serve test test-faults lint bench clean

# Django 6 needs Python >= 3.12; scripts/find-python looks for one (pyenv included).
$(PY):
	@py=$$(scripts/find-python) && echo "Creating $(VENV) with $$py" && "$$py" -m venv $(VENV)

# Stamp files: reinstall only when pyproject.toml changed, so repeated runs are fast.
# The test stamp implies the runtime one (`.[test]` includes the runtime dependencies).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	scripts/run

# Needs SECRET_KEY, DATABASE_URL (PostgreSQL) and ALLOWED_HOSTS; see docs/DEPLOYMENT.md.
serve: $(VENV)/.installed
	scripts/serve

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# scripts/test starts PostgreSQL, runs pytest and always stops the server again.
# The browser tests need Debian's chromium, the pooler tests its pgbouncer; the ensure-
# scripts install them if missing.
test: lint
	scripts/ensure-chromium
	scripts/ensure-pgbouncer
	scripts/test

# gunicorn and runserver on 127.0.0.1 with a throwaway PostgreSQL, POS terminals as threads:
# a storm, a spread over many registers, a database restart, a killed master, lost
# answers; each test prints its figures. 4 to 7 minutes on 2 shared cores.
test-faults: $(VENV)/.installed-test
	scripts/test-faults

# Every figure beside its reference (the app served as by `make serve`, a bare DRF app,
# raw psycopg, COPY), on a chain of BENCH_LOCATIONS stores (default 50; BENCH_QUICK=1 for a
# look in a few minutes); writes BENCHMARKS.md and bench/results.json. See bench/__main__.py.
bench: $(VENV)/.installed
	scripts/bench

clean:
	rm -rf $(VENV) var
