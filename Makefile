# The two commands of the README: `make run` (the product with demo data) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000
# Test processes: the suite splits by file; tests/reliability (fixed-name databases, shared servers) runs alone after.
TEST_JOBS ?= 2

.PHONY: run test install demo worker beat bench-data clean

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --if-empty
	$(PY) manage.py runserver $(HOST)

# pytest exits 5 when it collected nothing: a suite that ran no test has proved nothing, so say so and fail.
test: install
	bin/ensure-chromium
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile --ignore=tests/reliability $(PYTEST_ARGS)
	$(PY) -m pytest tests/reliability -p no:xdist $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo

# The benchmark data set (docs/benchmarks.md): use an empty PostgreSQL database in DATABASE_URL.
bench-data: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --scale --stores 50 --months 36

worker: install
	$(VENV)/bin/celery -A dealership worker --loglevel=info --concurrency=2

beat: install
	$(VENV)/bin/celery -A dealership beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
