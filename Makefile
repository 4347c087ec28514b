# One-command set-up, study and tests on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
APT := $(shell command -v apt-get 2>/dev/null)
ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: setup data browser demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,scale,table]'
	touch $@

# The Fashion-MNIST archives: Debian's package where we can install it, else twistfm
# downloads them into ~/.cache/twistfm at first use.
data:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -n "$(APT)" ] && [ -n "$(ROOT)" ]; then \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	fi

# Chromium and its driver for the browser tests.
browser:
	@if ! command -v chromedriver >/dev/null && [ -n "$(APT)" ] && [ -n "$(ROOT)" ]; then \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

demo: setup data
	$(VENV)/bin/twistfm run

test: setup data browser
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

bench: setup data
	$(PY) bench/train_bench.py

clean:
	rm -rf $(VENV) runs
