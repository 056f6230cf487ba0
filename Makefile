# Two commands on a fresh machine: `make demo` and `make test` (each sets up .venv/ first).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
REQS := $(wildcard requirements/*.txt)
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | md5sum | cut -c1-12)

.PHONY: setup demo test test-fast lint weights bench extension docs-pictures clean

setup: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip==24.3.1
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m backend setup-models --dest .models/u2net
	rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(PY) -m backend reconstruct examples/apple.jpg -o out/demo
	$(PY) scripts/batch.py --input examples/apple.jpg --output out/demo-blender \
		--blend out/demo-blender/apple.blend
	@echo "Results: out/demo/apple/ (command line: mesh.glb, slices/, result.json) and"
	@echo "         out/demo-blender/apple.blend (through Blender, headless: mesh, slices, camera)"

test: lint
	$(PY) -m pytest -q

# The everyday loop (about a minute): lint, then the tests not marked slow (tests/conftest.py).
test-fast: lint
	$(PY) -m pytest -q -x -m "not slow"

# ruff (style, imports, complexity), mypy on the backend and the plain-Python client, and the
# layer rules and import cycles (docs/ARCHITECTURE.md, "Checks").
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy backend client
	$(PY) scripts/check_layers.py

# Rebuild the shipped network from data, phase by phase (docs/MODEL.md); never touches
# backend/weights/: `python -m training.ship` does that, by hand, after a look at the results.
weights: setup
	$(PY) -m training.recipe --build-data

bench: setup
	$(PY) scripts/bench_backend.py

extension: setup
	$(PY) scripts/build_extension.py

docs-pictures: setup
	$(PY) scripts/render_docs.py

clean:
	rm -rf out .pytest_cache .ruff_cache
