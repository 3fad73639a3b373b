# The README's commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrate seed superuser check clean bench-import backup restore bench bench-data loadtest screenshots

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: install, migrate the database, load the seed content if it is empty, serve on http://$(HOST):$(PORT)/
run: $(VENV)/.runtime
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PY) manage.py load_seed
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

# Test-only Node tools (package.json): axe-core and the Nu HTML Checker. Without npm, their tests skip.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --ignore-scripts; \
	else echo "npm not found: the accessibility and HTML validity tests will be skipped"; fi

## test: install the test tools and run the whole suite (DATABASE_URL picks the database)
test: $(VENV)/.dev node_modules/.package-lock.json
	$(PY) -m pytest $(PYTEST_ARGS)

## screenshots: retake docs/editorial/*.png, the editorial workflow's browser test (needs /usr/bin/chromium)
screenshots: $(VENV)/.dev
	UPDATE_SCREENSHOTS=1 REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser/test_editorial_workflow.py $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(VENV)/.runtime
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input

## seed: (re)load the seed content and its glossary; overwrites the seed records with the fixtures' text
seed: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py loaddata seed

superuser: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py createsuperuser

## check: what CI checks besides the tests
check: $(VENV)/.dev
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache staticfiles

## bench-import: time importing 10,000 references (not part of make test)
bench-import: $(VENV)/.dev
	$(PY) bench/import_benchmark.py

## backup: content, history and accounts to backups/mesoinfo-<UTC time>.json (or FILE=…); keep it private
backup: $(VENV)/.runtime
	@mkdir -p backups
	DEBUG=$${DEBUG:-1} $(PY) manage.py backup_content --output "$${FILE:-backups/mesoinfo-$$(date -u +%Y%m%d-%H%M%S).json}"

## restore: load FILE=… into an empty migrated database (FORCE=1 replaces the current content)
restore: migrate
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/….json [FORCE=1]"; exit 2; }
	DEBUG=$${DEBUG:-1} $(PY) manage.py restore_content $(if $(FORCE),--force) "$(FILE)"

## bench: HTTP benchmark on a synthetic dataset (builds mesoinfo_bench on the local PostgreSQL the first time); see docs/performance.md
bench: $(VENV)/.runtime
	@command -v wrk >/dev/null || echo "wrk not found (apt-get install -y wrk): using the slower Python load generator"
	$(PY) bench/run.py --reuse $(BENCH_ARGS)

## bench-data: rebuild the synthetic benchmark database mesoinfo_bench (drops it first)
bench-data: $(VENV)/.runtime
	$(PY) bench/generate.py

## loadtest: 64 clients for 60 s against gunicorn + PostgreSQL; exits 1 on any error
loadtest: $(VENV)/.runtime
	$(PY) bench/loadtest.py $(LOADTEST_ARGS)
