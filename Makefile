# Two commands do everything on a fresh machine with Python 3.11:
#   make run   - install the runtime set, migrate, load the demo when the database is empty, start web + worker
#   make test  - install the test set (Chromium too), run the linters and the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_ENV := SECRET_KEY=test-only-secret-key-that-is-long-enough-0123456789 SESSION_COOKIE_SECURE=false \
	CSRF_COOKIE_SECURE=false ALLOWED_HOSTS=localhost,127.0.0.1,testserver

.PHONY: run test lint install install-dev chromium

# Runtime only (make run); the test and lint tools come with requirements/dev.txt (make test).
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements/dev.txt requirements/peer.txt
	$(PY) -m pip install --quiet -r requirements/dev.txt
	# seisclass, the CNN's published peer, without its metadata's full tensorflow (see requirements/peer.txt)
	$(PY) -m pip install --quiet --no-deps -r requirements/peer.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py run_seistriage

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates --lint
	$(VENV)/bin/djlint templates --check
	$(TEST_ENV) $(VENV)/bin/mypy .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: install-dev chromium lint
	$(TEST_ENV) $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)
