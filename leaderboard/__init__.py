"""lrgym leaderboard: suite definition, runner, scoring, store, report and CLI.

``leaderboard.scoring`` holds the pure scoring functions (per-run normalised score, steps to
target, rliable's aggregates with stratified-bootstrap confidence intervals, probability of
improvement, performance profiles and AlgoPerf's profile score); it depends on NumPy only.
"""
