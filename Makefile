# Two commands: `make run` starts the whole platform on embedded defaults, `make test` runs every test.
# Both install what they need on a fresh Debian machine: the virtual environment, the Python packages,
# the Debian packages the tests use; the Kafka jars are fetched by `sentiric broker` itself.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := sip-tester sipvicious kcat espeak-ng sox tshark chromium baresip

.PHONY: run test lint venv system-deps bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: venv
	$(BIN)/sentiric up

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy  # strict on schemas/ streams/ projections/ sentiric/ edge/ ([tool.mypy] in pyproject.toml)

test: venv system-deps lint
	$(BIN)/pytest

bench: venv
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .sentiric .pytest_cache .ruff_cache .mypy_cache
