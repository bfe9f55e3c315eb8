# Careline — the two commands are `make run` (demo server) and `make test` (whole suite).
# Everything installs in ONE pip resolve into .venv, with the CPU build of torch pinned
# (constraints.txt); `pip check` guards against a later install breaking rasa-sdk.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8080

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Debian packages: the voice channel's offline TTS (run), plus headless Chromium for browser tests (test).
RUN_PACKAGES := espeak-ng
TEST_PACKAGES := $(RUN_PACKAGES) chromium sox

.PHONY: run test install lint typecheck contracts bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[dev,neural-voice]' torch==2.13.0
	$(PIP) check
	touch $@

install: $(VENV)/.installed

system-deps-%:
	@missing=""; for p in $($*_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install system-deps-RUN
	$(VENV)/bin/careline validate bot/demo/project
	$(VENV)/bin/careline kb ingest bot/demo/project
	CARELINE_DEMO_TODAY=$${CARELINE_DEMO_TODAY:-today} $(VENV)/bin/careline serve --host $(HOST) --port $(PORT)

# lint, types and the import contracts first: they fail in seconds, the suite takes minutes.
test: install lint typecheck contracts system-deps-TEST
	$(PIP) check
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check bot connectors evals careline tests benchmarks

# the packages and the tests ([tool.mypy] in pyproject.toml has the options)
typecheck: install
	$(VENV)/bin/mypy bot connectors evals careline tests

# The layers only point down (careline → evals → connectors → bot): [tool.importlinter] in pyproject.toml.
contracts: install
	$(VENV)/bin/lint-imports

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) bot/demo/project/.careline .pytest_cache
