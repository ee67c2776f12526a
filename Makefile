# Two commands a new user needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# torch is pinned here (a CPU build that installs fast); pyproject.toml keeps a range.
TORCH_PIN ?= torch==2.13.0
STAMP := .install.stamp

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps "torch-fidelity==0.4.0" "prdc==0.2"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m stablegan demo --out runs/demo

test: $(STAMP)
	$(PYTHON) -m pytest -q tests

lint: $(STAMP)
	$(PYTHON) -m ruff check stablegan tests benchmarks

clean:
	rm -rf runs $(STAMP) .pytest_cache
