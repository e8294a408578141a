# The two commands of the README:
#   make leaderboard   set up .venv and run every baseline on the default suite (the main job)
#   make test          set up .venv and run the test suite
# and:  make bench     speed benchmarks (pytest-benchmark) and the benchmark table
#       make transfer  the transfer study: lrgym's ranking vs real PyTorch training (≈ 20 CPU-min)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build that this machine kind has on disk; an unpinned torch
# resolves to a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup leaderboard test bench transfer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[all,dev]"
	touch $@

setup: $(VENV)/.installed

leaderboard: setup
	$(BIN)/lrgym leaderboard run-baselines

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-enable -q
	$(BIN)/python -m benchmarks.report

transfer: setup
	$(BIN)/python -m lrgym.leaderboard.transfer

clean:
	rm -rf $(VENV)
