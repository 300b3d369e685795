# Một Cửa — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: run test install lint docs docs-check bench clean unit integration e2e system-deps

## run: install what is needed, start the embedded servers and all six services (Ctrl-C stops)
run: install system-deps
	$(BIN)/motcua up

## test: install what tests need and run the whole suite (lint included)
test: install system-deps
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q -p no:cacheprovider --durations=15

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-*; touch $@

## system-deps: Debian packages — Chromium (browser tests) and poppler-utils (scan's PDF thumbnails)
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then \
	  (apt-get update -qq && apt-get install -y -qq chromium poppler-utils >/dev/null) || \
	  echo "warning: could not install chromium/poppler-utils (not root?): browser tests and PDF thumbnails need them"; \
	fi

## lint: ruff, mypy and the import rules (layering)
lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@out=$$($(BIN)/pip-audit -l --skip-editable -s pypi --progress-spinner off 2>&1); rc=$$?; if [ $$rc -ne 0 ] && echo "$$out" | grep -qiE "ConnectionError|ProxyError|SSLError|ReadTimeout|Max retries|resolve"; then echo "warning: pip-audit could not reach the vulnerability database (PyPI JSON API): dependencies not audited"; else echo "$$out" | grep -v "could not be audited"; n=$$(echo "$$out" | grep -c "could not be audited"); [ "$$n" = 0 ] || echo "warning: pip-audit: $$n package version(s) unknown to the vulnerability source, not audited"; exit $$rc; fi

unit: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit
integration: install
	$(BIN)/pytest -q -p no:cacheprovider tests/integration
e2e: install
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e

## docs: write the AsyncAPI document of every service under docs/asyncapi
docs: install
	$(BIN)/motcua docs --out docs/asyncapi

## bench: start the stack and print throughput/latency figures (bench/results/*.json)
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
