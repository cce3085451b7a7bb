# The two commands: `make run` starts everything; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean chromium system-packages styles

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Casework needs Python 3.11 ($(PYTHON) not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP) system-packages styles
	$(BIN)/casework run

# Two xdist workers: the tests on the shared stack (end-to-end, and browser tests that use
# it) run on one, in order, while the other takes everything else; see tests/conftest.py.
TEST_WORKERS ?= 2

# The checks first (seconds), then the tests (minutes): lint and format, the layer contracts
# of docs/ARCHITECTURE.md, types over the whole tree. The tests start hundreds of Python
# processes; with PYTHONDONTWRITEBYTECODE set (as some machines set it), each compiled
# Casework's modules from source again: 20 s of CPU over a run, so the tests keep .pyc files.
test: $(STAMP) chromium system-packages styles
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=10

# The pages' stylesheet: GOV.UK Frontend compiled with Casework's settings (api/styles/), and
# the design system's script, both into api/static/build/. Node and npm come from Debian when
# they are missing and we are root; the packages are the exact ones package-lock.json names.
STYLES := api/static/build/casework.css
styles: $(STYLES)

$(STYLES): package.json package-lock.json $(wildcard api/styles/*.scss)
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else echo "Node.js and npm are needed to build the pages' stylesheet: install them."; exit 1; fi; \
	fi
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p api/static/build
	node_modules/.bin/sass --pkg-importer=node --style=compressed --no-source-map --no-error-css api/styles/casework.scss $@
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js api/static/build/

# Browser tests drive Debian's Chromium; install it when missing and we are root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is not installed and we are not root: browser tests will be skipped."; fi; \
	fi

# Print-ready letters (WeasyPrint) need Pango, HarfBuzz and fonts from Debian; install
# whichever are missing when we are root.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing system packages for PDF letters:" $$missing; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "Missing system packages for PDF letters (install them as root):" $$missing; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Every benchmark in bench/ in turn (not the shared modules results.py and install.py, nor
# table.py), then one table of all their figures (bench/table.py). A benchmark that fails
# does not stop the others, but `make bench` fails once the table is printed. The previous
# run's figures are removed first, so the table never shows a figure this run did not make.
BENCH_NOT_RUN := bench/results.py bench/install.py bench/table.py
BENCH_RESULTS := $(or $(CASEWORK_BENCH_RESULTS),var/bench)

bench: $(STAMP) smtp-sink
	@rm -f $(BENCH_RESULTS)/*.json
	@failed=""; \
	for b in $(filter-out $(BENCH_NOT_RUN),$(wildcard bench/*.py)); do \
		echo "== $$b"; \
		$(BIN)/python $$b || failed="$$failed $$b"; \
	done; \
	$(BIN)/python bench/table.py; \
	if [ -n "$$failed" ]; then echo "These benchmarks failed:$$failed"; exit 1; fi

# The letter benchmark sends to Postfix's smtp-sink; install postfix when it is missing and we are root.
smtp-sink:
	@if ! command -v smtp-sink >/dev/null 2>&1 && [ ! -x /usr/sbin/smtp-sink ]; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
		else echo "smtp-sink (Debian's postfix package) is missing and we are not root: install postfix."; exit 1; fi; \
	fi

clean:
	rm -rf var .pytest_cache
