# The two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
DEV := APP_ENV=development

.PHONY: run test lint bench screenshots clean

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

run: $(VENV)/.installed-app ## set up and serve on http://127.0.0.1:$(PORT) with SQLite
	$(DEV) $(BIN)/flask --app wsgi db upgrade
	@$(DEV) $(BIN)/flask --app wsgi demo --if-empty
	@echo "Serving on http://127.0.0.1:$(PORT)/  (Ctrl+C to stop)"
	$(DEV) exec $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) \
		--access-logfile - wsgi:app

test: $(VENV)/.installed-test ## install test dependencies and run the whole suite
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check heysummit_tc tests

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
