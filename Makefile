# Two commands a new user needs: `make demo` and `make test`. Both install what they need.
# `make test-fast` skips the end-to-end tests marked slow (for while you work; CI runs `make test`).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# torch is pinned here (a CPU build that installs fast); pyproject.toml keeps a range.
TORCH_PIN ?= torch==2.13.0
STAMP := .install.stamp

.PHONY: help install demo test test-fast lint clean

help:  ## the default target: what each target does
	@echo "make demo       install, then ppo-gan, ppo-gan-reweight and wgan-gp on the ring (runs/demo)"
	@echo "make test       install, then the whole test suite (what CI runs)"
	@echo "make test-fast  the suite without the tests marked slow (for while you work)"
	@echo "make lint       ruff over stablegan, tests and benchmarks"
	@echo "make install    pip install $(TORCH_PIN), then -e .[dev] and the tests' reference torch-fidelity, prdc"
	@echo "make clean      remove runs/ and the install stamp"

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

test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -m "not slow" tests

lint: $(STAMP)
	$(PYTHON) -m ruff check stablegan tests benchmarks

clean:
	rm -rf runs $(STAMP) .pytest_cache
