# Veracity: `make run` serves the API on the bundled corpus, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench bench-quick lint clean corpus extension-zip

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

# ruff (lint + format) over everything; mypy over the installed package. mypy cannot follow the editable
# install's folder mapping (service/ -> veracity.service), so it reads a tree of links laid out as the wheel is.
CODE := service models corpus veracity training bench tests
lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	rm -rf build/typecheck && mkdir -p build/typecheck/veracity
	ln -s ../../../veracity/__init__.py ../../../veracity/py.typed build/typecheck/veracity/
	for d in service models corpus; do ln -s ../../../$$d build/typecheck/veracity/$$d; done
	cd build/typecheck && ../../$(BIN)/mypy -p veracity --python-executable ../../$(BIN)/python

# The browser extension as one zip for a store upload or a sideload: build/veracity-extension-<version>.zip,
# the version from extension/manifest.json, manifest.json at the zip's root. Plain python3: no venv needed.
EXTENSION_ZIP_DIR ?= build
extension-zip:
	@mkdir -p $(EXTENSION_ZIP_DIR)
	@$(PYTHON) -c 'import json, pathlib, sys, zipfile; \
	src = pathlib.Path("extension"); out = pathlib.Path(sys.argv[1]); \
	version = json.loads((src / "manifest.json").read_text(encoding="utf-8"))["version"]; \
	zip_path = out / f"veracity-extension-{version}.zip"; \
	files = sorted(p for p in src.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts)); \
	zf = zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED); \
	[zf.write(p, p.relative_to(src).as_posix()) for p in files]; zf.close(); \
	print(f"{zip_path}: {len(files)} files")' $(EXTENSION_ZIP_DIR)

clean:
	rm -rf $(VENV) build *.egg-info
