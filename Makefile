# The commands humans and CI share. `make run` serves on embedded defaults; `make test` runs the suite.
# Every target makes its own virtualenv (.venv) and installs into it, so each works from a fresh clone.
# `make help` lists them.

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
# What `make test-fast` leaves out: served processes, the browser, Ray and anything marked slow.
FAST_MARKS := not (e2e or browser or ray or slow)

.PHONY: help install run test test-fast chaos soak lint typecheck check bench eval demo-model clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

install: $(STAMP) ## make .venv and install the service with its test and lint tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test$(EXTRAS)]"
	touch $(STAMP)

run: $(STAMP) ## serve on http://127.0.0.1:8000 with embedded defaults
	$(BIN)/moderation serve

test: $(STAMP) ## the whole suite: Redis, served processes, the browser, Ray
	scripts/ensure-redis
	PYTHON=$(BIN)/python scripts/ensure-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the inner loop: no served processes, browser, Ray or slow tests (about 5 minutes on 2 cores)
	scripts/ensure-redis
	$(BIN)/python -m pytest -m "$(FAST_MARKS)" $(PYTEST_ARGS)

# The fault run and the soak (tests/e2e/chaos.py, tests/e2e/soak.py): each starts its own redis-server and
# `moderation serve` (word list only), writes artifacts/chaos/*.json and exits non-zero on a violation. Both
# run even when the first fails, so one CI log shows both verdicts. About 3 + 11 minutes; CHAOS_SECONDS and
# SOAK_SECONDS shorten them while developing.
chaos: $(STAMP) ## fault run (Redis and the service killed under load: nothing lost), then the soak
	scripts/ensure-redis
	@rc=0; \
	$(BIN)/python -m tests.e2e.chaos || rc=1; \
	$(BIN)/python -m tests.e2e.soak || rc=1; \
	exit $$rc

soak: $(STAMP) ## ten minutes at 80% of measured capacity: RSS growth <= 10%, p99 stable
	scripts/ensure-redis
	$(BIN)/python -m tests.e2e.soak

lint: $(STAMP) ## ruff's checks and its formatter (check only; `ruff format` to fix)
	$(BIN)/ruff check service tests
	$(BIN)/ruff format --check service tests
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy: strict on moderation/, wordlist/, model/ and store/, checked elsewhere
	$(BIN)/mypy

check: lint typecheck test ## what CI runs

bench: $(STAMP) ## the speed and memory benchmarks (tests/benchmarks/)
	scripts/ensure-redis
	@set -e; for b in tests/benchmarks/bench_*.py; do \
		m=$$(echo $${b%.py} | tr / .); echo "== $$m"; $(BIN)/python -m $$m; done

# EVAL_ARGS passes options on, e.g. `make eval EVAL_ARGS="--show-misses --json eval.json"` (see --help).
eval: $(STAMP) ## the word list's recall and false positives on our labelled cases, next to better-profanity's
	$(BIN)/python -m tests.benchmarks.eval_wordlist $(EVAL_ARGS)

# A stand-in model for trying the service where Detoxify's weights can't be downloaded (see README).
demo-model: $(STAMP) ## write the tiny RANDOM demo model to .cache/demo-model
	HF_HUB_OFFLINE=1 $(BIN)/moderation model demo .cache/demo-model

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
