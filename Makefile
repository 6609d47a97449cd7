# The commands humans and CI share. `make run` serves on embedded defaults; `make test` runs the suite.
# Both make their own virtualenv (.venv) and install into it, so they work from a fresh clone.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A CPU-only PyTorch wheel. A plain `torch` requirement can pull a multi-GB CUDA build; pin the CPU one first
# (override, e.g. TORCH_SPEC="torch==2.5.1", where another release is at hand).
TORCH_SPEC ?= torch==2.13.0
# Optional groups installed with the test tools. Ray (rescoring on a cluster, ~15 s and ~500 MB) is in by
# default so that its tests run in CI; `make test EXTRAS=` leaves it out (those tests then skip, saying why).
EXTRAS ?= ,ray

.PHONY: install run test bench demo-model clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/moderation serve

test: $(STAMP)
	scripts/ensure-redis
	PYTHON=$(BIN)/python scripts/ensure-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/ensure-redis
	@set -e; for b in tests/benchmarks/bench_*.py; do \
		m=$$(echo $${b%.py} | tr / .); echo "== $$m"; $(BIN)/python -m $$m; done

# A stand-in model for trying the service where Detoxify's weights can't be downloaded (see README).
demo-model: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/moderation model demo .cache/demo-model

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
