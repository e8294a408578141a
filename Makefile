# The two commands of the README:
#   make leaderboard   set up .venv and run every baseline on the default suite (the main job)
#   make test          set up .venv and run the test suite (what CI runs)
# and:  make test-deep the deep tier: the costly failure-mode and variant tests make test leaves
#                       out (tests/deep_tier.py; ≈ 15 – 18 min on 2 cores); it passes before a change lands
#       make bench     speed benchmarks (pytest-benchmark) and the benchmark table
#       make transfer  the transfer study: lrgym's ranking vs real PyTorch training (≈ 20 CPU-min)
#        make clients   the client matrix: SB3, rl-zoo3, CleanRL-style PPO, RLlib, TorchRL and
#                       gymnasium's utilities on LRControl-v1 (own venv .venv-clients; not in CI)
#
# make test runs the whole suite, then its numerics tier (PORTABLE_TESTS) again with NumPy's
# AVX2 / AVX-512 dispatch switched off (NPY_DISABLE_CPU_FEATURES) and, on x86-64, OpenBLAS's
# Haswell (AVX2) kernels (OPENBLAS_CORETYPE): the results must not depend on which SIMD code
# NumPy and OpenBLAS pick, so a machine of another CPU kind passes too.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build that this machine kind has on disk; an unpinned torch
# resolves to a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# the numerics tests: random numbers, vector math, optimizers, kernels, divergence, env, vector env,
# features and rewards, validation metrics, non-finite updates, the monitor, the PyTorch undo, the
# leaderboard's statistics against their references, the gradient cosine against the exact one,
# the MLP family (its matrix products are OpenBLAS's)
PORTABLE_TESTS := tests/test_rng.py tests/tasks/test_vmath.py tests/test_optim.py \
	tests/tasks/test_fast_kernels.py tests/tasks/test_quadratic.py tests/tasks/test_linreg.py \
	tests/test_divergence.py tests/test_env.py tests/test_vector.py tests/torch_extra/test_policy_scheduler.py \
	tests/tasks/test_recsys_data.py tests/tasks/test_recsys_topkeys.py tests/tasks/test_pcg64.py \
	tests/test_observe_reference.py tests/tasks/test_validation_metrics.py tests/tasks/test_non_finite_update.py \
	tests/test_optim_zero_layer.py tests/test_monitor_divergence.py tests/test_monitor_metric_reward.py \
	tests/test_monitor_gradient_pairs.py tests/torch_extra/test_tensor_lr_and_undo.py \
	tests/leaderboard/test_confidence_intervals_reference.py tests/leaderboard/test_board_reference.py \
	tests/leaderboard/test_score_reference.py tests/test_gradient_cosine.py tests/tasks/test_mlp.py
NO_SIMD_DISPATCH := X86_V3 X86_V4 AVX512_ICL AVX512_SPR
# OpenBLAS's kernels of an AVX2 CPU (x86-64 only; elsewhere not set at all: OpenBLAS's own choice,
# as some builds take an empty value for their generic kernels)
OLDER_BLAS_CORE := $(if $(filter x86_64,$(shell uname -m)),OPENBLAS_CORETYPE=Haswell,)
# The whole suite runs on one pytest-xdist worker per core (at most 4), a test module at a time,
# the slowest modules first (tests/conftest.py); PARALLEL= runs it in one process.
PARALLEL ?= -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

CLIENTS_VENV ?= .venv-clients
CLIENT_STEPS ?= 4096

.PHONY: setup leaderboard test test-deep bench clients transfer clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip byte-compiles every file it installs one at a time (≈ 85 of the ≈ 140 CPU-s of this step on a
# 2-core VM, 2026-12-07); --no-compile, then compileall on every core, makes the same .pyc files in
# about half the wall clock. Like pip, it leaves alone the few files that do not compile (test data
# of torch and joblib), hence `|| true`.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-compile "$(TORCH)"
	$(BIN)/pip install --quiet --no-compile "$(TORCH)" -e ".[all,dev]"
	$(BIN)/python -m compileall -q -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || true
	touch $@

setup: $(VENV)/.installed

leaderboard: setup
	$(BIN)/lrgym leaderboard run-baselines

test: setup
	$(BIN)/python -m pytest -q $(PARALLEL)
	NPY_DISABLE_CPU_FEATURES="$(NO_SIMD_DISPATCH)" $(OLDER_BLAS_CORE) \
		$(BIN)/python -m pytest -q $(PARALLEL) $(PORTABLE_TESTS)

test-deep: setup
	$(BIN)/python -m pytest -q $(PARALLEL) -m deep

bench: setup
	$(BIN)/python -m pytest benchmarks --benchmark-enable -q
	$(BIN)/python -m benchmarks.report

transfer: setup
	$(BIN)/python -m lrgym.leaderboard.transfer

# The RL libraries of the client matrix, in their own venv (ray[rllib] pins an older gymnasium);
# torch pinned in the same resolver run so nothing replaces the CPU build.
$(CLIENTS_VENV)/.installed: pyproject.toml benchmarks/clients/requirements.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLIENTS_VENV)/bin/pip install --quiet "$(TORCH)" -e ".[rl]" -r benchmarks/clients/requirements.txt
	touch $@

clients: setup $(CLIENTS_VENV)/.installed
	$(CLIENTS_VENV)/bin/python -m benchmarks.clients.matrix --steps $(CLIENT_STEPS) \
		--core-python $(BIN)/python --out benchmarks/clients/RESULTS.md --readme README.md

clean:
	rm -rf $(VENV) $(CLIENTS_VENV)
