"""Shared test fixtures."""

import os

# Keep BLAS single-threaded in tests so timings and numerics do not depend on the core count.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys

# Slow, obvious reference implementations (tests/references.py) importable from every test dir.
sys.path.insert(0, os.path.dirname(__file__))
