# Veracity: `make run` serves the API on the bundled corpus, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench bench-quick lint clean corpus

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

corpus: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/veracity corpus build

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/veracity serve

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench $(if $(DATA),--data $(DATA),)

bench-quick: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) corpus/corpus.db *.egg-info
