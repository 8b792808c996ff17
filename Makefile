# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
# pytest-xdist processes: one per core (each gets its own databases, servers and browser);
# worksteal hands a finished process tests queued for another, so the last minute is shared.
TEST_WORKERS ?= auto
DEV := APP_ENV=development PORT=$(PORT)

.PHONY: run test lint audit bench mutate mutate-postgres screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever the dependencies change; otherwise reuse the environment.
$(VENV)/.installed-app: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app .flaskenv ## set up and serve on http://127.0.0.1:$(PORT) with SQLite
	$(DEV) $(BIN)/flask --app wsgi db upgrade
	@$(DEV) $(BIN)/flask --app wsgi demo --if-empty
	@echo "Serving on http://127.0.0.1:$(PORT)/ with a background worker  (Ctrl+C to stop)"
	@$(DEV) $(BIN)/huey_consumer heysummit_tc.worker.huey --workers 2 --worker-type thread \
		--quiet & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEV) $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) \
		--access-logfile - wsgi:app

# The flask command in this checkout then needs no environment: it reads .flaskenv (through
# python-dotenv) and finds the app and the development keys make run uses.
.flaskenv:
	printf 'FLASK_APP=wsgi\nAPP_ENV=development\n' > $@

# axe-core, which the browser tests load into every page they check.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: $(VENV)/.installed-test node_modules/.installed ## install test dependencies and run the whole suite
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)
	$(BIN)/bandit -q -r heysummit_tc

# Known vulnerabilities in the pinned dependencies, judged from pip-audit's own report:
# a dependency it could not look up is a failure, unless it could look up none at all (the
# vulnerability data is unreachable from this network), which is said plainly.
audit: $(VENV)/.installed-test
	$(BIN)/pip freeze --exclude-editable > $(VENV)/requirements.audit
	rm -f $(VENV)/audit.json
	$(BIN)/pip-audit --format json --output $(VENV)/audit.json --progress-spinner off \
		--no-deps --disable-pip -r $(VENV)/requirements.audit 2>/dev/null || true
	$(BIN)/python .ci/audit.py $(VENV)/audit.json

lint: $(VENV)/.installed-test
	$(BIN)/ruff check heysummit_tc tests bench

bench: $(VENV)/.installed-test ## benchmark the webhook and pages (PostgreSQL; BENCH_ARGS=--sqlite, --scale)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Mutation testing of the core (setup.cfg's [mutmut] names the files and the tests): slow,
# so neither part of `make test` nor of CI. Each mutant runs only the tests that reach it; the
# results stay in mutants/ and a second run picks up where the first stopped.
mutate: $(VENV)/.installed-test ## mutate the core, run the tests against each mutant, print the scores
	$(BIN)/mutmut run --max-children $(or $(MUTATE_CHILDREN),2)
	$(BIN)/python tests/mutation_scores.py

# The survivors of `make mutate` against the PostgreSQL tests (paths SQLite never takes).
mutate-postgres: $(VENV)/.installed-test ## run mutate's survivors against the PostgreSQL tests (TEST_DATABASE_URL)
	$(BIN)/python tests/mutation_postgres.py

# Refresh the screenshots the README shows: the browser journey, on SQLite.
screenshots: $(VENV)/.installed-test node_modules/.installed
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/test_browser.py -k sqlite -q -n 0

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis mutants
