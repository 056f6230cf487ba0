# Two commands on a fresh machine: `make demo` and `make test` (each sets up .venv/ first).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
REQS := $(wildcard requirements/*.txt)
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | md5sum | cut -c1-12)

.PHONY: setup demo test lint bench extension docs-pictures clean

setup: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip==24.3.1
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m backend setup-models
	rm -f $(VENV)/.installed-* && touch $@

demo: setup
	$(PY) -m backend reconstruct examples/apple.jpg -o out/demo
	$(PY) scripts/batch.py --input examples/apple.jpg --output out/demo-blender \
		--blend out/demo-blender/apple.blend
	@echo "Results: out/demo/apple/ (command line: mesh.glb, slices/, result.json) and"
	@echo "         out/demo-blender/apple.blend (through Blender, headless: mesh, slices, camera)"

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) scripts/bench_backend.py

extension: setup
	$(PY) scripts/build_extension.py

docs-pictures: setup
	$(PY) scripts/render_docs.py

clean:
	rm -rf out .pytest_cache .ruff_cache
